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

// mqttSession is an MQTT v5 client with a one-hour session expiry and the
// messages it receives.
type mqttSession struct {
	*paho.Client
	msgs chan *paho.Publish
}

// connectSession connects clientID as alice, resuming its session unless
// clean, and disconnects when the test ends.
func connectSession(t *testing.T, addr, clientID string, clean bool) (*mqttSession, *paho.Connack) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	msgs := make(chan *paho.Publish, 10)
	c := paho.NewClient(paho.ClientConfig{
		Conn: packets.NewThreadSafeConn(conn),
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(p paho.PublishReceived) (bool, error) {
			msgs <- p.Packet
			return true, nil
		}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	expiry := uint32(3600)
	ca, err := c.Connect(ctx, &paho.Connect{ClientID: clientID, KeepAlive: 30, CleanStart: clean,
		Username: "alice", UsernameFlag: true, Password: []byte("secret"), PasswordFlag: true,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}})
	require.NoError(t, err)
	s := &mqttSession{Client: c, msgs: msgs}
	t.Cleanup(s.close)
	return s, ca
}

// close disconnects; the session stays on the broker.
func (s *mqttSession) close() {
	_ = s.Disconnect(&paho.Disconnect{})
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
	}
}

func (s *mqttSession) next(t *testing.T) *paho.Publish {
	t.Helper()
	select {
	case m := <-s.msgs:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no MQTT message within 10s")
		return nil
	}
}

// Retained and QoS 1 messages acknowledged by the HTTP gateway survive a
// SIGKILL: after a restart on the same data dir, the persistent session
// that was offline gets its queued messages, and a new subscriber gets the
// retained one.
func TestMQTTDurableAcrossKill(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "herald.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`
mqtt:
  users:
    - username: alice
      password: secret
`), 0o600))
	dataDir := t.TempDir()
	mqttAddr, gwAddr := freeAddr(t), freeAddr(t)
	args := []string{"--config", cfg, "--mqtt-addr", mqttAddr, "--mqtt-http-addr", gwAddr}
	n := start(t, dataDir, nil, args...)

	sub, _ := connectSession(t, mqttAddr, "sub-durable", true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "queued/#", QoS: 1}}})
	require.NoError(t, err)
	sub.close()

	post := func(topic, query, body string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, "http://"+gwAddr+"/topics/"+topic+"?"+query, strings.NewReader(body))
		require.NoError(t, err)
		req.SetBasicAuth("alice", "secret")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	post("home%2Fstate", "qos=1&retained=true", "on")
	post("queued%2Fa", "qos=1", "first")
	post("queued%2Fb", "qos=1", "second")

	n.kill()
	start(t, dataDir, nil, args...)

	sub, ca := connectSession(t, mqttAddr, "sub-durable", false)
	require.True(t, ca.SessionPresent)
	got := map[string]string{}
	for range 2 {
		m := sub.next(t)
		got[m.Topic] = string(m.Payload)
	}
	require.Equal(t, map[string]string{"queued/a": "first", "queued/b": "second"}, got)

	fresh, _ := connectSession(t, mqttAddr, "fresh", true)
	_, err = fresh.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "home/#", QoS: 1}}})
	require.NoError(t, err)
	m := fresh.next(t)
	require.Equal(t, "home/state", m.Topic)
	require.Equal(t, "on", string(m.Payload))
	require.True(t, m.Retain)
}
