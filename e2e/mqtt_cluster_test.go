package e2e

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	"github.com/stretchr/testify/require"
)

// mqttNode is a herald process with its MQTT listener and gateway.
type mqttNode struct {
	*node
	mqtt, gateway string
}

func startMQTTNode(t *testing.T, cfg, natsURL string) mqttNode {
	t.Helper()
	n := mqttNode{mqtt: freeAddr(t), gateway: freeAddr(t)}
	n.node = start(t, t.TempDir(), nil, "--config", cfg, "--mqtt-addr", n.mqtt, "--mqtt-http-addr", n.gateway,
		"--nats-url", natsURL, "--nats-replicas", "1")
	return n
}

// aliceConfig writes a configuration with the MQTT user alice.
func aliceConfig(t *testing.T) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "herald.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`
mqtt:
  users:
    - username: alice
      password: secret
`), 0o600))
	return cfg
}

// publish posts body to the node's gateway as alice and wants 200.
func (n mqttNode) publish(t *testing.T, topic, query, body string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+n.gateway+"/topics/"+strings.ReplaceAll(topic, "/", "%2F")+"?"+query, strings.NewReader(body))
	require.NoError(t, err)
	req.SetBasicAuth("alice", "secret")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// clusterClient is an MQTT 5 client of alice and what it receives: messages
// and a DISCONNECT from the server.
type clusterClient struct {
	*paho.Client
	msgs         chan *paho.Publish
	disconnected chan *paho.Disconnect
}

// dialAlice connects clientID to addr, with a one-hour session resumed
// when persistent, else a clean session that ends with the connection.
func dialAlice(t *testing.T, addr, clientID string, persistent bool) (*clusterClient, *paho.Connack) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	c := &clusterClient{msgs: make(chan *paho.Publish, 100), disconnected: make(chan *paho.Disconnect, 1)}
	c.Client = paho.NewClient(paho.ClientConfig{
		Conn: packets.NewThreadSafeConn(conn),
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(p paho.PublishReceived) (bool, error) {
			c.msgs <- p.Packet
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) { c.disconnected <- d },
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cp := &paho.Connect{ClientID: clientID, KeepAlive: 30, CleanStart: !persistent,
		Username: "alice", UsernameFlag: true, Password: []byte("secret"), PasswordFlag: true}
	if persistent {
		expiry := uint32(3600)
		cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: &expiry}
	}
	ca, err := c.Connect(ctx, cp)
	require.NoError(t, err)
	require.Equal(t, byte(0), ca.ReasonCode)
	t.Cleanup(func() {
		_ = c.Disconnect(&paho.Disconnect{})
		select {
		case <-c.Done():
		case <-time.After(10 * time.Second):
		}
	})
	return c, ca
}

func (c *clusterClient) subscribe(t *testing.T, filter string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 2}}})
	require.NoError(t, err)
}

func (c *clusterClient) publish(t *testing.T, topic string, qos byte, retain bool, body string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: qos, Retain: retain, Payload: []byte(body)})
	require.NoError(t, err)
}

// untilNew is until without the messages in seen (adding those it
// returns): a session taken over gets again, at least once, what the
// takeover may have cut off.
func (c *clusterClient) untilNew(t *testing.T, last string, seen map[string]bool) []string {
	t.Helper()
	var got []string
	for _, v := range c.until(t, last) {
		if !seen[v] {
			seen[v] = true
			got = append(got, v)
		}
	}
	return got
}

// until returns "topic=payload" of what c receives, up to the message on
// topic last.
func (c *clusterClient) until(t *testing.T, last string) []string {
	t.Helper()
	var got []string
	for {
		select {
		case m := <-c.msgs:
			got = append(got, m.Topic+"="+string(m.Payload))
			if m.Topic == last {
				return got
			}
		case <-time.After(30 * time.Second): // a loaded CI machine runs many herald processes at once
			t.Fatalf("no %s within 30s; got %q", last, got)
		}
	}
}

// Two herald processes on one external nats-server are one MQTT broker:
// what is published through one process (its MQTT listener at each QoS, its
// gateway) reaches a subscriber of the other once; a retained message set
// through one is what a new subscriber of the other gets; a persistent
// session resumed on the other process gets what was queued for it, and
// the connection it replaces is told "session taken over" (0x8E).
func TestMQTTTwoProcessesAreOneBroker(t *testing.T) {
	t.Parallel()
	cfg, url := aliceConfig(t), externalNATS(t)
	a, b := startMQTTNode(t, cfg, url), startMQTTNode(t, cfg, url)

	// Exactly once, in order, from b's MQTT listener and gateway to a
	// subscriber of a.
	sub, _ := dialAlice(t, a.mqtt, "sub-a", false)
	sub.subscribe(t, "home/#")
	pub, _ := dialAlice(t, b.mqtt, "pub-b", false)
	for qos := range byte(3) {
		pub.publish(t, "home/q"+strconv.Itoa(int(qos)), qos, false, "mqtt")
	}
	b.publish(t, "home/gw", "qos=1", "gateway")
	b.publish(t, "home/state", "qos=1&retained=true", "on")
	pub.publish(t, "home/end", 1, false, "end")
	require.Equal(t, []string{"home/q0=mqtt", "home/q1=mqtt", "home/q2=mqtt", "home/gw=gateway", "home/state=on", "home/end=end"},
		sub.until(t, "home/end"))

	// The retained message set through b, on a.
	late, _ := dialAlice(t, a.mqtt, "late-a", false)
	late.subscribe(t, "home/state")
	var m *paho.Publish
	select {
	case m = <-late.msgs:
	case <-time.After(10 * time.Second):
		t.Fatal("no retained message")
	}
	require.Equal(t, "home/state", m.Topic)
	require.Equal(t, "on", string(m.Payload))
	require.True(t, m.Retain)

	// A persistent session of a, offline, gets what is published through
	// b, and resumed on b it has it.
	roamer, ca := dialAlice(t, a.mqtt, "roamer", true)
	require.False(t, ca.SessionPresent)
	roamer.subscribe(t, "queued/#")
	require.NoError(t, roamer.Disconnect(&paho.Disconnect{}))
	<-roamer.Done()
	b.publish(t, "queued/a", "qos=1", "first")
	pub.publish(t, "queued/b", 2, false, "second")
	pub.publish(t, "home/sync", 1, false, "") // a has queued both once sub has this
	sub.until(t, "home/sync")

	onB, ca := dialAlice(t, b.mqtt, "roamer", true)
	require.True(t, ca.SessionPresent)
	seen := map[string]bool{}
	require.Equal(t, []string{"queued/a=first", "queued/b=second"}, onB.untilNew(t, "queued/b", seen))

	// Back to a while connected to b: b's connection is taken over.
	onA, ca := dialAlice(t, a.mqtt, "roamer", true)
	require.True(t, ca.SessionPresent)
	select {
	case d := <-onB.disconnected:
		require.Equal(t, byte(0x8E), d.ReasonCode)
	case <-time.After(10 * time.Second):
		t.Fatal("the connection to b was not taken over")
	}
	b.publish(t, "queued/c", "qos=1", "third")
	require.Equal(t, []string{"queued/c=third"}, onA.untilNew(t, "queued/c", seen))
}

// A shared subscription with a member on each process gets each message
// once, from either process's gateway, and both members get some.
func TestMQTTSharedSubscriptionAcrossProcesses(t *testing.T) {
	t.Parallel()
	cfg, url := aliceConfig(t), externalNATS(t)
	a, b := startMQTTNode(t, cfg, url), startMQTTNode(t, cfg, url)
	workers := []*clusterClient{}
	for i, n := range []mqttNode{a, b} {
		w, _ := dialAlice(t, n.mqtt, "worker-"+strconv.Itoa(i), false)
		w.subscribe(t, "$share/workers/job/+")
		workers = append(workers, w)
	}
	const n = 40
	for i := range n {
		[]mqttNode{a, b}[i%2].publish(t, "job/"+strconv.Itoa(i), "qos=1", "x")
	}
	seen := map[string]int{}
	per := make([]int, len(workers))
	for len(seen) < n {
		select {
		case m := <-workers[0].msgs:
			seen[m.Topic]++
			per[0]++
		case m := <-workers[1].msgs:
			seen[m.Topic]++
			per[1]++
		case <-time.After(10 * time.Second):
			t.Fatalf("shared messages missing: got %d of %d", len(seen), n)
		}
	}
	require.Equal(t, n, per[0]+per[1], "a message came twice")
	require.Positive(t, per[0])
	require.Positive(t, per[1])
}

// A persistent session held by a process killed with SIGKILL resumes on
// another process with what was queued for it (acknowledged through either
// process) before the kill, and what was published while no process held
// it, at least once.
func TestMQTTSessionOfAKilledProcessResumesOnAnother(t *testing.T) {
	t.Parallel()
	cfg, url := aliceConfig(t), externalNATS(t)
	a, b := startMQTTNode(t, cfg, url), startMQTTNode(t, cfg, url)
	roamer, _ := dialAlice(t, a.mqtt, "roamer", true)
	roamer.subscribe(t, "queued/#")
	watch, _ := dialAlice(t, a.mqtt, "watch", false)
	watch.subscribe(t, "queued/#")
	require.NoError(t, roamer.Disconnect(&paho.Disconnect{}))
	<-roamer.Done()
	a.publish(t, "queued/a", "qos=1", "through a")
	b.publish(t, "queued/b", "qos=2", "through b")
	watch.until(t, "queued/b") // a has put both into the session

	a.kill()
	b.publish(t, "queued/c", "qos=1", "while a is gone")
	resumed, ca := dialAlice(t, b.mqtt, "roamer", true)
	require.True(t, ca.SessionPresent)
	want := map[string]bool{"queued/a=through a": true, "queued/b=through b": true, "queued/c=while a is gone": true}
	got := map[string]bool{}
	for len(got) < len(want) {
		select {
		case m := <-resumed.msgs:
			got[m.Topic+"="+string(m.Payload)] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	require.Equal(t, want, got)
}
