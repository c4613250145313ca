package mqtt

import (
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func TestConfigYAML(t *testing.T) {
	t.Parallel()
	const doc = `
mqtt:
  users:
    - username: alice
      password: secret
      acl:                       # no acl = allowed everything
        - {action: publish,   filter: "home/#"}
        - {action: subscribe, filter: "home/#"}
  http_publish_rate: 1000        # requests/s per username; over it: 429
`
	var file struct {
		MQTT Config `yaml:"mqtt"`
	}
	file.MQTT = DefaultConfig()
	require.NoError(t, yaml.Unmarshal([]byte(doc), &file))
	want := DefaultConfig()
	want.Users = []User{alice}
	want.HTTPPublishRate = 1000
	require.Equal(t, want, file.MQTT)
	require.NoError(t, file.MQTT.validate())
	require.Equal(t, ":1883", want.Addr)
	require.Equal(t, ":8081", want.HTTPAddr)
	require.Equal(t, 1<<20, want.MaxPacketSize)
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  Config
		err  string // "" = valid
	}{
		{"zero", Config{}, ""},
		{"users", Config{Users: []User{alice, root}}, ""},
		{"empty username", Config{Users: []User{{Password: "p"}}}, "users[0]: username is empty"},
		{"empty password", Config{Users: []User{{Username: "u"}}}, `users[0] "u": password is empty`},
		{"twice", Config{Users: []User{root, root}}, `users[1]: username "root" appears twice`},
		{
			"bad action",
			Config{Users: []User{{Username: "u", Password: "p", ACL: []ACLRule{{Action: "read", Filter: "a"}}}}},
			`users[0].acl[0]: action "read" is not publish or subscribe`,
		},
		{
			"bad filter",
			Config{Users: []User{{Username: "u", Password: "p", ACL: []ACLRule{{Action: "publish", Filter: "a/#/b"}}}}},
			`users[0].acl[0]: "a/#/b" is not an MQTT topic filter`,
		},
		{
			"empty filter",
			Config{Users: []User{{Username: "u", Password: "p", ACL: []ACLRule{{Action: "publish"}}}}},
			`users[0].acl[0]: "" is not an MQTT topic filter`,
		},
		{"tls without cert", Config{TLSAddr: ":8883"}, "tls_addr, http_tls and client_ca need tls_cert and tls_key"},
		{"https without cert", Config{HTTPTLS: true}, "tls_addr, http_tls and client_ca need tls_cert and tls_key"},
		{"negative packet size", Config{MaxPacketSize: -1}, "max_packet_size -1 is out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.cfg.WithDefaults().validate()
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, "mqtt config: "+tc.err)
		})
	}
}

func TestNewReportsBadTLSFiles(t *testing.T) {
	t.Parallel()
	_, err := New(Config{TLSAddr: "127.0.0.1:0", TLSCert: "/nonexistent.pem", TLSKey: "/nonexistent.key"}, discard(), nil)
	require.ErrorContains(t, err, "mqtt: load tls_cert and tls_key")
}

func TestCovers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		acl, topic string
		want       bool
	}{
		{"home/#", "home/kitchen", true},
		{"home/#", "home/kitchen/light", true},
		{"home/#", "home", true},
		{"home/#", "homes", false},
		{"home/#", "office/home", false},
		{"home/+", "home/kitchen", true},
		{"home/+", "home/kitchen/light", false},
		{"home/+", "home", false},
		{"home/+/temp", "home/kitchen/temp", true},
		{"home/+/temp", "home/kitchen/hum", false},
		{"#", "anything/at/all", true},
		{"#", "$SYS/broker", false},
		{"+/x", "$SYS/x", false},
		{"$SYS/#", "$SYS/broker/load", true},
		{"a/b", "a/b", true},
		{"a/b", "a/b/", false},
		{"a/+", "a/", true},
		// Subscription filters against ACL filters.
		{"home/#", "home/#", true},
		{"home/#", "home/+/temp", true},
		{"home/+", "home/+", true},
		{"home/+", "home/#", false},
		{"home/kitchen", "home/+", false},
		{"#", "#", true},
		{"home/#", "#", false},
		{"+/#", "a/+/#", true},
	} {
		require.Equal(t, tc.want, covers(tc.acl, tc.topic), "%q covers %q", tc.acl, tc.topic)
	}
}
