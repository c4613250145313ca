package e2e

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	"github.com/stretchr/testify/require"
)

// The binary wires the MQTT broker and the HTTP publish gateway to the YAML
// users: an HTTP publish reaches an MQTT v5 subscriber.
func TestMQTTGatewayThroughTheBinary(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "herald.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`
mqtt:
  users:
    - username: alice
      password: secret
      acl:
        - {action: publish, filter: "home/#"}
        - {action: subscribe, filter: "home/#"}
`), 0o600))
	mqttAddr, gwAddr := freeAddr(t), freeAddr(t)
	start(t, t.TempDir(), nil, "--config", cfg, "--mqtt-addr", mqttAddr, "--mqtt-http-addr", gwAddr)

	conn, err := net.Dial("tcp", mqttAddr)
	require.NoError(t, err)
	got := make(chan *paho.Publish, 1)
	c := paho.NewClient(paho.ClientConfig{
		Conn: packets.NewThreadSafeConn(conn),
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(p paho.PublishReceived) (bool, error) {
			got <- p.Packet
			return true, nil
		}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ca, err := c.Connect(ctx, &paho.Connect{ClientID: "sub", KeepAlive: 30, CleanStart: true,
		Username: "alice", UsernameFlag: true, Password: []byte("secret"), PasswordFlag: true})
	require.NoError(t, err)
	require.Equal(t, byte(0), ca.ReasonCode)
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	_, err = c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "home/#", QoS: 1}}})
	require.NoError(t, err)

	post := func(user, pass string) (int, http.Header) {
		req, err := http.NewRequest(http.MethodPost, "http://"+gwAddr+"/topics/home%2Fkitchen?qos=1&ContentType=text/plain", strings.NewReader("21.5"))
		require.NoError(t, err)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	code, _ := post("", "")
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = post("alice", "wrong")
	require.Equal(t, http.StatusUnauthorized, code)
	code, header := post("alice", "secret")
	require.Equal(t, http.StatusOK, code)
	require.Regexp(t, `^[0-9A-F]{32}$`, header.Get("X-Message-Id"))
	select {
	case p := <-got:
		require.Equal(t, "home/kitchen", p.Topic)
		require.Equal(t, "21.5", string(p.Payload))
		require.Equal(t, "text/plain", p.Properties.ContentType)
	case <-time.After(10 * time.Second):
		t.Fatal("no MQTT message within 10s")
	}
}

// Listener settings belong to the flags; in the mqtt: section they are an
// error, not silently ignored.
func TestMQTTListenerKeysInYAMLRefused(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "herald.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("mqtt:\n  addr: \":1999\"\n"), 0o600))
	out, err := runServe(t, "--config", cfg)
	require.Error(t, err)
	require.Contains(t, out, "mqtt.addr: set listeners with --mqtt-addr or the top-level key mqtt_addr")
}
