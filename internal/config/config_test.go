package config_test

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/config"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.Parse(nil, env(nil), io.Discard)
	require.NoError(t, err)
	require.Equal(t, "./data", c.DataDir)
	require.Equal(t, ":8080", c.HTTPAddr)
	require.Equal(t, ":1883", c.MQTTAddr)
	require.Equal(t, ":8081", c.MQTTHTTPAddr)
	require.Equal(t, int64(1000000), c.AppID)
	require.False(t, c.AllowPrivateEndpoints)
	require.True(t, c.Delivery)
	require.Equal(t, 1.0, c.RetryIntervalScale)
	require.Equal(t, 30*time.Second, c.DeliveryAckWait)
	require.Empty(t, c.NatsURL)
	require.Equal(t, 15*time.Second, c.PushTimeout)
	require.Equal(t, 5*time.Second, c.EngineRetryTimeout)
	require.Equal(t, 100, c.MaxSubscriptionsPerTopic)
	require.Equal(t, 0, c.MaxConnections, "derived from the open-file limit")
	require.Equal(t, 30*time.Second, c.HTTPReadTimeout)
	require.Empty(t, c.PprofAddr, "profiles are never served unless asked for")
	always, every, err := c.FsyncPolicy()
	require.NoError(t, err)
	require.False(t, always)
	require.Equal(t, 2*time.Minute, every)
}

func TestFlagBeatsEnvBeatsFileBeatsDefault(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "h.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`
data_dir: /from/file
http_addr: ":1"
app_id: 5
allow_private_endpoints: true
delivery: false
retry_interval_scale: 0.5
max_connections: 500
http_read_timeout: 5s
mqtt:
  users:
    - {username: alice, password: secret}
  http_publish_rate: 10
`), 0o600))
	c, err := config.Parse([]string{"--config", file, "--http-addr", ":3"}, env(map[string]string{
		"HERALD_HTTP_ADDR": ":2", "HERALD_APP_ID": "6", "HERALD_FSYNC": "always", "HERALD_MAX_CONNECTIONS": "700",
	}), io.Discard)
	require.NoError(t, err)
	require.Equal(t, ":3", c.HTTPAddr, "flag")
	require.Equal(t, int64(6), c.AppID, "env over file")
	require.Equal(t, "/from/file", c.DataDir, "file over default")
	require.True(t, c.AllowPrivateEndpoints)
	require.False(t, c.Delivery)
	require.Equal(t, 0.5, c.RetryIntervalScale)
	require.Equal(t, 700, c.MaxConnections, "env over file")
	require.Equal(t, 5*time.Second, c.HTTPReadTimeout, "file")
	always, _, err := c.FsyncPolicy()
	require.NoError(t, err)
	require.True(t, always)
	var mqtt struct {
		Users []struct{ Username string } `yaml:"users"`
		Rate  int                         `yaml:"http_publish_rate"`
	}
	require.NoError(t, c.MQTT.Decode(&mqtt))
	require.Equal(t, "alice", mqtt.Users[0].Username)
	require.Equal(t, 10, mqtt.Rate)
}

func TestConfigFileFromEnv(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "h.yaml")
	require.NoError(t, os.WriteFile(file, []byte("app_id: 9\n"), 0o600))
	c, err := config.Parse(nil, env(map[string]string{"HERALD_CONFIG": file}), io.Discard)
	require.NoError(t, err)
	require.Equal(t, int64(9), c.AppID)
}

func TestInvalidSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown flag", []string{"--nope"}, nil, "flag provided but not defined"},
		{"stray argument", []string{"extra"}, nil, `unexpected argument "extra"`},
		{"bad env value", nil, map[string]string{"HERALD_APP_ID": "many"}, "HERALD_APP_ID"},
		{"app id zero", []string{"--app-id", "0"}, nil, "--app-id"},
		{"secret id alone", []string{"--secret-id", "AKIDx"}, nil, "go together"},
		{"secret id without AKID", []string{"--secret-id", "x", "--secret-key", "y"}, nil, "AKID"},
		{"bad fsync", []string{"--fsync", "sometimes"}, nil, "--fsync"},
		{"negative scale", []string{"--retry-interval-scale", "-1"}, nil, "retry-interval-scale"},
		{"replicas", []string{"--nats-replicas", "9"}, nil, "nats-replicas"},
		{"negative max connections", []string{"--max-connections", "-1"}, nil, "--max-connections must not be negative"},
		{"zero read timeout", nil, map[string]string{"HERALD_HTTP_READ_TIMEOUT": "0s"}, "--http-read-timeout must be positive"},
		{"short ack wait", []string{"--delivery-ack-wait", "10ms"}, nil, "--delivery-ack-wait"},
		{"missing file", []string{"--config", filepath.Join(dir, "none.yaml")}, nil, "no such file"},
		{"unknown key", []string{"--config", write("u.yaml", "dat_dir: x\n")}, nil, `unknown key "dat_dir"`},
		{"list for scalar", []string{"--config", write("l.yaml", "app_id: [1]\n")}, nil, "single value"},
		{"bad yaml", []string{"--config", write("b.yaml", "a: [\n")}, nil, "yaml"},
		{"bad file value", []string{"--config", write("v.yaml", "push_timeout: soon\n")}, nil, "push_timeout"},
	}
	for _, tc := range cases {
		_, err := config.Parse(tc.args, env(tc.env), io.Discard)
		require.ErrorContains(t, err, tc.want, tc.name)
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	require.Equal(t, "HERALD_ALLOW_PRIVATE_ENDPOINTS", config.EnvName("allow-private-endpoints"))
	require.Equal(t, "allow_private_endpoints", config.YAMLName("allow-private-endpoints"))
}

func FuzzConfigYAML(f *testing.F) {
	f.Add("data_dir: x\nmqtt:\n  users: []\n")
	f.Add("app_id: 5\nfsync: always\n")
	f.Fuzz(func(t *testing.T, doc string) {
		p := filepath.Join(t.TempDir(), "f.yaml")
		if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		_, _ = config.Parse([]string{"--config", p}, env(nil), io.Discard)
	})
}
