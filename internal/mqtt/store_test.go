package mqtt

import (
	"context"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	mpackets "github.com/mochi-mqtt/server/v2/packets"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/engine"
	"github.com/herald-mq/herald/internal/engine/enginetest"
)

// startStored starts a server for root that keeps its state in eng.
func startStored(t *testing.T, eng *engine.Engine) *Server {
	t.Helper()
	s, err := New(Config{Addr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Users: []User{root}}, discard(), nil, WithStore(eng.KV, eng.JS.Stream))
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { stopServer(t, s) })
	return s
}

func stopServer(t *testing.T, s *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	require.NoError(t, s.Stop(ctx))
}

// restart stops s and its engine, and starts both again on dir, as a new
// herald process would.
func restart(t *testing.T, s *Server, eng *engine.Engine, dir string) (*Server, *engine.Engine) {
	t.Helper()
	stopServer(t, s)
	require.NoError(t, eng.Close())
	eng = enginetest.Open(t, dir)
	return startStored(t, eng), eng
}

// session connects clientID as root, MQTT 5 with a one-hour session expiry,
// resuming its session unless clean.
func session(t *testing.T, s *Server, clientID string, clean bool) (*mqttClient, *paho.Connack) {
	t.Helper()
	conn, err := net.Dial("tcp", s.MQTTAddr())
	require.NoError(t, err)
	msgs := make(chan *paho.Publish, 100)
	c := paho.NewClient(paho.ClientConfig{
		Conn: packets.NewThreadSafeConn(conn),
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(p paho.PublishReceived) (bool, error) {
			msgs <- p.Packet
			return true, nil
		}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	expiry := uint32(3600)
	cp := credentials(clientID, root.Username, root.Password)
	cp.KeepAlive, cp.CleanStart = 30, clean
	cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: &expiry}
	ca, err := c.Connect(ctx, cp)
	require.NoError(t, err)
	mc := &mqttClient{Client: c, msgs: msgs}
	t.Cleanup(func() { mc.close(t) })
	return mc, ca
}

// close disconnects c (its session stays) and waits until it has stopped.
func (c *mqttClient) close(t *testing.T) {
	t.Helper()
	_ = c.Disconnect(&paho.Disconnect{ReasonCode: 0})
	select {
	case <-c.Done():
	case <-t.Context().Done():
	}
}

// nextN returns the next n messages c receives, by topic.
func (c *mqttClient) nextN(t *testing.T, n int) map[string]*paho.Publish {
	t.Helper()
	got := make(map[string]*paho.Publish, n)
	for len(got) < n { // delivery is at least once: a message may come twice
		m := c.next(t)
		got[m.Topic] = m
	}
	return got
}

func publishOK(t *testing.T, s *Server, topic, query, body string) {
	t.Helper()
	status, _, resp := post(t, nil, gatewayURL(s, "http", topic, query), body, root.Username, root.Password)
	require.Equal(t, http.StatusOK, status, resp)
}

// storedKeys lists the bucket's keys, sorted.
func storedKeys(t *testing.T, eng *engine.Engine) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	// Read the bucket's stream directly (its subjects, then each one's last
	// entry) rather than through a key watch, whose ordered consumer can end
	// its initial listing early on a loaded machine.
	const prefix = "$KV." + Bucket + "."
	stream, err := eng.JS.Stream(ctx, "KV_"+Bucket)
	require.NoError(t, err)
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(prefix+">"))
	require.NoError(t, err)
	var keys []string
	for subject := range info.State.Subjects {
		m, err := stream.GetLastMsgForSubject(ctx, subject)
		require.NoError(t, err)
		if op := m.Header.Get("KV-Operation"); op == "" { // a put; deletions and purges carry DEL or PURGE
			keys = append(keys, strings.TrimPrefix(subject, prefix))
		}
	}
	slices.Sort(keys)
	return keys
}

// A retained message, QoS 1 and 2 messages queued for an offline persistent
// session (from the gateway and from an MQTT publisher), and that session's
// subscriptions survive a restart of the broker and the engine.
func TestStoreSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	eng := enginetest.Open(t, dir)
	s := startStored(t, eng)

	sub, _ := session(t, s, "sub-1", true)
	sub.subscribe(t, "home/#", 2)
	sub.close(t)

	publishOK(t, s, "home/retained", "qos=1&retained=true&MessageExpiryInterval=3600", "kept")
	publishOK(t, s, "home/gw1", "qos=1", "gateway qos 1")
	publishOK(t, s, "home/gw2", "qos=2", "gateway qos 2")
	publishOK(t, s, "home/gw0", "qos=0", "qos 0, not queued")
	pub := dial(t, s, "pub-1", root.Username, root.Password)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, err := pub.Publish(ctx, &paho.Publish{Topic: "home/mqtt1", QoS: 1, Payload: []byte("mqtt qos 1")})
	require.NoError(t, err) // PUBACK
	_, err = pub.Publish(ctx, &paho.Publish{Topic: "home/mqtt2", QoS: 2, Payload: []byte("mqtt qos 2"),
		Properties: &paho.PublishProperties{ContentType: "text/plain"}})
	require.NoError(t, err) // PUBCOMP

	s, eng = restart(t, s, eng, dir)
	retained, ok := s.broker.srv.Topics.Retained.Get("home/retained")
	require.True(t, ok)
	require.Equal(t, retained.Created+3600, retained.Expiry) // expires as if never restarted

	sub, ca := session(t, s, "sub-1", false)
	require.True(t, ca.SessionPresent)
	got := sub.nextN(t, 5)
	for topic, want := range map[string]struct {
		payload string
		qos     byte
	}{
		"home/retained": {"kept", 1},
		"home/gw1":      {"gateway qos 1", 1},
		"home/gw2":      {"gateway qos 2", 2},
		"home/mqtt1":    {"mqtt qos 1", 1},
		"home/mqtt2":    {"mqtt qos 2", 2},
	} {
		require.Contains(t, got, topic)
		require.Equal(t, want.payload, string(got[topic].Payload), topic)
		require.Equal(t, want.qos, got[topic].QoS, topic)
	}
	require.Equal(t, "text/plain", got["home/mqtt2"].Properties.ContentType)

	// The subscription came back with the session: new messages arrive
	// without subscribing again.
	publishOK(t, s, "home/after", "qos=1", "after")
	for m := sub.next(t); m.Topic != "home/after"; m = sub.next(t) {
		require.Contains(t, got, m.Topic, "only a duplicate may come first")
	}

	// The retained message came back for new subscribers.
	other := dial(t, s, "other", root.Username, root.Password)
	other.subscribe(t, "home/retained", 1)
	m := other.next(t)
	require.Equal(t, "kept", string(m.Payload))
	require.True(t, m.Retain)

	// Acknowledged messages are gone from the store; the session, its
	// subscription and the retained message stay. The client acknowledges
	// after its handler returns, so wait for the broker to have the acks.
	want := []string{
		"c." + keyToken("sub-1"),
		"r." + keyToken("home/retained"),
		"s." + keyToken("sub-1") + "." + keyToken("home/#"),
	}
	require.Eventually(t, func() bool { return slices.Equal(want, storedKeys(t, eng)) }, wait, 10*time.Millisecond)
	sub.close(t)
	require.Equal(t, want, storedKeys(t, eng))
}

// A clean start, an empty retained message and a session that ends with its
// connection leave nothing behind, across a restart too.
func TestStoreForgets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	eng := enginetest.Open(t, dir)
	s := startStored(t, eng)

	sub, _ := session(t, s, "sub-1", true)
	sub.subscribe(t, "home/#", 1)
	sub.close(t)
	publishOK(t, s, "home/q", "qos=1", "queued")
	publishOK(t, s, "home/r", "qos=1&retained=true", "retained")
	require.Len(t, storedKeys(t, eng), 5) // client, subscription, two inflight, retained

	publishOK(t, s, "home/r", "qos=1&retained=true", "") // clears it
	sub, ca := session(t, s, "sub-1", true)
	require.False(t, ca.SessionPresent)
	sub.close(t)
	require.Equal(t, []string{"c." + keyToken("sub-1")}, storedKeys(t, eng))

	// An MQTT 3-style session that ends with the connection: nothing stored.
	d := dial(t, s, "clean-1", root.Username, root.Password)
	d.subscribe(t, "home/#", 1)
	publishOK(t, s, "home/x", "qos=1", "x")
	require.Equal(t, "home/x", d.next(t).Topic)
	require.Equal(t, []string{"c." + keyToken("sub-1")}, storedKeys(t, eng))

	s, eng = restart(t, s, eng, dir)
	sub, ca = session(t, s, "sub-1", false)
	require.True(t, ca.SessionPresent) // the session, without subscriptions
	publishOK(t, s, "home/y", "qos=1", "y")
	other := dial(t, s, "other", root.Username, root.Password)
	other.subscribe(t, "home/#", 1)
	publishOK(t, s, "home/z", "qos=1", "z")
	require.Equal(t, "home/z", other.next(t).Topic) // no retained home/r first
	select {
	case m := <-sub.msgs:
		t.Fatalf("unexpected message on %s", m.Topic)
	default:
	}
	require.Equal(t, []string{"c." + keyToken("sub-1")}, storedKeys(t, eng))
}

// An MQTT publish acknowledged but not yet in the sessions when the process
// died (its pending key still stored) is delivered at the next start.
func TestStoreReplaysPending(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	eng := enginetest.Open(t, dir)
	s := startStored(t, eng)
	sub, _ := session(t, s, "sub-1", true)
	sub.subscribe(t, "home/#", 1)
	sub.close(t)
	stopServer(t, s)

	// What OnPublish writes before the PUBACK.
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	kv, err := eng.KV(ctx, Bucket, 1)
	require.NoError(t, err)
	key := pendingKey{client: "pub-1", id: 7}
	m := message(mpackets.Packet{
		FixedHeader: mpackets.FixedHeader{Type: mpackets.Publish, Qos: 1},
		TopicName:   "home/crash", PacketID: 7, Payload: []byte("acked"), Origin: "pub-1",
	})
	m.ID, m.Client = key.String(), "pub-1"
	b, err := m.MarshalBinary()
	require.NoError(t, err)
	_, err = kv.Put(ctx, key.String(), b)
	require.NoError(t, err)

	s, eng = restart(t, s, eng, dir)
	for _, k := range storedKeys(t, eng) {
		require.False(t, strings.HasPrefix(k, "p."), k)
	}
	sub, _ = session(t, s, "sub-1", false)
	got := sub.next(t)
	require.Equal(t, "home/crash", got.Topic)
	require.Equal(t, "acked", string(got.Payload))
}

var keyAlphabet = regexp.MustCompile(`^[-/_=.a-zA-Z0-9]+$`)

func TestKeyToken(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", maxPlainToken+1)
	seen := map[string]string{}
	for _, s := range []string{"", "a", "home/+/temp", "#", "$share/g/x", "a.b c*>", "日本", long, long + "y", strings.Repeat("x", maxPlainToken)} {
		tok := keyToken(s)
		require.Regexp(t, keyAlphabet, tok, s)
		require.NotContains(t, tok, ".", s) // one token
		require.LessOrEqual(t, len(tok), 128, s)
		prev, dup := seen[tok]
		require.False(t, dup, "%q and %q share %q", s, prev, tok)
		seen[tok] = s
	}
}
