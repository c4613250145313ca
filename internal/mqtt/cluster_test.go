package mqtt

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	mpackets "github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/engine"
	"github.com/herald-mq/herald/internal/engine/enginetest"
)

// startClustered starts a broker for root that is one of the brokers on
// eng, as a herald process on a shared cluster is.
func startClustered(t *testing.T, eng *engine.Engine) *Server {
	t.Helper()
	s, err := New(Config{Addr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Users: []User{root}}, discard(), nil,
		WithStore(eng.KV, eng.JS.Stream), WithCluster(Cluster{Conn: eng.NC, JS: eng.JS, Stream: eng.Stream}))
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { stopServer(t, s) })
	return s
}

func publishMQTT(t *testing.T, c *mqttClient, topic string, qos byte, retain bool, payload string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: qos, Retain: retain, Payload: []byte(payload)})
	require.NoError(t, err)
}

// until returns the payloads c receives up to and including the one on
// topic last.
func (c *mqttClient) until(t *testing.T, last string) []string {
	t.Helper()
	var got []string
	for {
		m := c.next(t)
		got = append(got, m.Topic+"="+string(m.Payload))
		if m.Topic == last {
			return got
		}
	}
}

// untilNew is until without the messages in seen (adding those it
// returns): a session taken over gets again, at least once, what the
// takeover may have cut off.
func (c *mqttClient) untilNew(t *testing.T, last string, seen map[string]bool) []string {
	t.Helper()
	var got []string
	for {
		m := c.next(t)
		v := m.Topic + "=" + string(m.Payload)
		if !seen[v] {
			seen[v] = true
			got = append(got, v)
		}
		if m.Topic == last {
			return got
		}
	}
}

// A message published on one broker (MQTT at each QoS, and the gateway)
// reaches the subscribers of both brokers once each, in order, and is not
// sent back (no loop).
func TestClusterDeliversOnEveryBrokerOnce(t *testing.T) {
	t.Parallel()
	eng := enginetest.New(t)
	a, b := startClustered(t, eng), startClustered(t, eng)
	onA := dial(t, a, "sub-a", root.Username, root.Password)
	onA.subscribe(t, "home/#", 2)
	onB := dial(t, b, "sub-b", root.Username, root.Password)
	onB.subscribe(t, "home/#", 2)

	pub := dial(t, a, "pub-a", root.Username, root.Password)
	for qos := range byte(3) {
		publishMQTT(t, pub, "home/q"+strconv.Itoa(int(qos)), qos, false, "mqtt")
	}
	publishOK(t, a, "home/gw", "qos=1", "gateway")
	// A last message that closes the run: what came before it came once.
	publishMQTT(t, pub, "home/end", 1, false, "end")
	want := []string{"home/q0=mqtt", "home/q1=mqtt", "home/q2=mqtt", "home/gw=gateway", "home/end=end"}
	require.Equal(t, want, onA.until(t, "home/end"))
	require.Equal(t, want, onB.until(t, "home/end"))

	// And from b's side. (Messages of different brokers have no order
	// between them, hence the two rounds.)
	publishOK(t, b, "home/gw-b", "qos=0", "gateway-b")
	publishMQTT(t, dial(t, b, "pub-b", root.Username, root.Password), "home/end", 2, false, "end-b")
	want = []string{"home/gw-b=gateway-b", "home/end=end-b"}
	require.Equal(t, want, onA.until(t, "home/end"))
	require.Equal(t, want, onB.until(t, "home/end"))
}

// A retained message set, replaced or cleared through one broker is what a
// subscriber of the other gets.
func TestClusterRetainedEverywhere(t *testing.T) {
	t.Parallel()
	eng := enginetest.New(t)
	a, b := startClustered(t, eng), startClustered(t, eng)
	watcher := dial(t, b, "watch", root.Username, root.Password)
	watcher.subscribe(t, "r/#", 1)

	publishOK(t, a, "r/x", "qos=1&retained=true", "first")
	publishMQTT(t, dial(t, a, "pub", root.Username, root.Password), "r/y", 1, true, "y")
	publishOK(t, a, "r/x", "qos=1&retained=true", "second")
	publishOK(t, a, "r/y", "qos=1&retained=true", "") // clears r/y
	publishOK(t, a, "r/end", "qos=1&retained=true", "end")
	watcher.until(t, "r/end") // b has applied all of them

	late := dial(t, b, "late", root.Username, root.Password)
	late.subscribe(t, "r/#", 1)
	got := map[string]string{}
	for range 2 {
		m := late.next(t)
		require.True(t, m.Retain)
		got[m.Topic] = string(m.Payload)
	}
	require.Equal(t, map[string]string{"r/x": "second", "r/end": "end"}, got)
}

// sessionOn connects clientID as root with a persistent session (MQTT 5,
// one-hour expiry), reporting a DISCONNECT from the server on disconnects.
func sessionOn(t *testing.T, s *Server, clientID string, disconnects chan<- *paho.Disconnect) (*mqttClient, *paho.Connack) {
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
		OnServerDisconnect: func(d *paho.Disconnect) {
			if disconnects != nil {
				disconnects <- d
			}
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	expiry := uint32(3600)
	cp := credentials(clientID, root.Username, root.Password)
	cp.KeepAlive, cp.CleanStart = 30, false
	cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: &expiry}
	ca, err := c.Connect(ctx, cp)
	require.NoError(t, err)
	mc := &mqttClient{Client: c, msgs: msgs}
	t.Cleanup(func() { mc.close(t) })
	return mc, ca
}

// A persistent session resumed on the other broker gets the messages queued
// for it, and what is published afterwards on either broker; the connection
// it replaces is told "session taken over" (0x8E).
func TestClusterSessionTakeover(t *testing.T) {
	t.Parallel()
	eng := enginetest.New(t)
	a, b := startClustered(t, eng), startClustered(t, eng)

	first, ca := sessionOn(t, a, "roamer", nil)
	require.False(t, ca.SessionPresent)
	first.subscribe(t, "job/#", 1)
	first.close(t)
	publishOK(t, a, "job/1", "qos=1", "queued") // into the offline session on a

	taken := make(chan *paho.Disconnect, 1)
	second, ca := sessionOn(t, b, "roamer", taken)
	require.True(t, ca.SessionPresent)
	seen := map[string]bool{}
	require.Equal(t, []string{"job/1=queued"}, second.untilNew(t, "job/1", seen))
	publishOK(t, a, "job/2", "qos=1", "from a")
	require.Equal(t, []string{"job/2=from a"}, second.untilNew(t, "job/2", seen))
	publishOK(t, b, "job/3", "qos=1", "from b")
	require.Equal(t, []string{"job/3=from b"}, second.untilNew(t, "job/3", seen))

	// Back to a while the connection to b is open: b closes it.
	third, ca := sessionOn(t, a, "roamer", nil)
	require.True(t, ca.SessionPresent)
	select {
	case d := <-taken:
		require.Equal(t, byte(0x8E), d.ReasonCode)
	case <-t.Context().Done():
		t.Fatal("no DISCONNECT")
	}
	publishOK(t, b, "job/4", "qos=1", "after")
	require.Equal(t, []string{"job/4=after"}, third.untilNew(t, "job/4", seen))
}

// Each message of a shared subscription goes to one member, whichever
// broker each member is on.
func TestClusterSharedSubscriptionOnce(t *testing.T) {
	t.Parallel()
	eng := enginetest.New(t)
	a, b := startClustered(t, eng), startClustered(t, eng)
	onA := dial(t, a, "worker-a", root.Username, root.Password)
	onA.subscribe(t, "$share/g/work/+", 1)
	onB := dial(t, b, "worker-b", root.Username, root.Password)
	onB.subscribe(t, "$share/g/work/+", 1)
	all := dial(t, b, "all", root.Username, root.Password)
	all.subscribe(t, "work/#", 1)

	const n = 40
	for i := range n {
		publishOK(t, a, "work/"+strconv.Itoa(i), "qos=1", "x")
	}
	all.until(t, "work/"+strconv.Itoa(n-1))
	seen := map[string]int{}
	perWorker := map[string]int{}
	for len(seen) < n {
		select {
		case m := <-onA.msgs:
			seen[m.Topic]++
			perWorker["a"]++
		case m := <-onB.msgs:
			seen[m.Topic]++
			perWorker["b"]++
		case <-t.Context().Done():
			t.Fatal("shared messages missing")
		}
	}
	// A last message (to the ordinary subscriber too) after which nothing
	// more came to the workers: each got each message at most once.
	publishOK(t, a, "work/last", "qos=1", "x")
	all.until(t, "work/last")
	for len(seen) < n+1 {
		select {
		case m := <-onA.msgs:
			seen[m.Topic]++
		case m := <-onB.msgs:
			seen[m.Topic]++
		case <-t.Context().Done():
			t.Fatal("shared message missing")
		}
	}
	for topic, count := range seen {
		require.Equal(t, 1, count, topic)
	}
	require.Empty(t, onA.msgs)
	require.Empty(t, onB.msgs)
	require.Positive(t, perWorker["a"])
	require.Positive(t, perWorker["b"])
}

// A persistent session whose broker stopped resumes on another with what was
// queued for it and what was published while no broker held it.
func TestClusterSessionOfAStoppedBrokerCatchesUp(t *testing.T) {
	t.Parallel()
	eng := enginetest.New(t)
	a, b := startClustered(t, eng), startClustered(t, eng)
	first, _ := sessionOn(t, a, "roamer", nil)
	first.subscribe(t, "job/#", 2)
	first.close(t)
	watch := dial(t, a, "watch", root.Username, root.Password)
	watch.subscribe(t, "job/#", 1)
	publishOK(t, b, "job/1", "qos=1", "queued on a")
	watch.until(t, "job/1")
	stopServer(t, a)
	publishOK(t, b, "job/2", "qos=2", "while no one held it")

	resumed, ca := sessionOn(t, b, "roamer", nil)
	require.True(t, ca.SessionPresent)
	got := map[string]bool{}
	for len(got) < 2 {
		m := resumed.next(t)
		got[m.Topic+"="+string(m.Payload)] = true
	}
	require.Equal(t, map[string]bool{"job/1=queued on a": true, "job/2=while no one held it": true}, got)
}

// A will (published by mochi without OnPublish) reaches the subscribers of
// the other broker, retained there too.
func TestClusterWillReachesOtherBroker(t *testing.T) {
	t.Parallel()
	eng := enginetest.New(t)
	a, b := startClustered(t, eng), startClustered(t, eng)
	watcher := dial(t, b, "watcher", root.Username, root.Password)
	watcher.subscribe(t, "status/#", 1)

	conn, err := net.Dial("tcp", a.MQTTAddr())
	require.NoError(t, err)
	c := paho.NewClient(paho.ClientConfig{Conn: packets.NewThreadSafeConn(conn)})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	cp := credentials("dies", root.Username, root.Password)
	cp.KeepAlive, cp.CleanStart = 30, true
	cp.WillMessage = &paho.WillMessage{Topic: "status/dies", QoS: 1, Retain: true, Payload: []byte("gone")}
	_, err = c.Connect(ctx, cp)
	require.NoError(t, err)
	require.NoError(t, conn.Close()) // no DISCONNECT: the will goes
	select {
	case <-c.Done():
	case <-time.After(wait):
		t.Fatal("paho client did not stop")
	}

	require.Equal(t, []string{"status/dies=gone"}, watcher.until(t, "status/dies"))
	late := dial(t, b, "late", root.Username, root.Password)
	late.subscribe(t, "status/#", 1)
	m := late.next(t)
	require.Equal(t, "status/dies", m.Topic)
	require.True(t, m.Retain)
}

// A broker that starts loads only the stored sessions no live broker holds:
// not one held by a running broker, but those of a broker that has gone.
func TestClusterStartLoadsOnlyUnheldSessions(t *testing.T) {
	t.Parallel()
	eng := enginetest.New(t)
	a := startClustered(t, eng)
	held, _ := sessionOn(t, a, "held", nil)
	held.subscribe(t, "x/#", 1)
	held.close(t)

	b := startClustered(t, eng)
	_, ok := b.broker.srv.Clients.Get("held")
	require.False(t, ok, "a session held by a running broker was loaded")

	stopServer(t, a)
	c := startClustered(t, eng)
	cl, ok := c.broker.srv.Clients.Get("held")
	require.True(t, ok, "the session of a broker that has gone was not loaded")
	require.Equal(t, 1, cl.State.Subscriptions.Len())
	e, err := eng.JS.KeyValue(context.Background(), Bucket)
	require.NoError(t, err)
	owner, err := e.Get(context.Background(), prefixOwner+"."+keyToken("held"))
	require.NoError(t, err)
	require.Equal(t, c.broker.cluster.node, string(owner.Value()))
}

// A starting broker replays the pending publishes of brokers that are gone,
// not those of a running broker, which is still putting them into its
// sessions.
func TestClusterStartReplaysOnlyGoneBrokersPending(t *testing.T) {
	t.Parallel()
	eng := enginetest.New(t)
	a := startClustered(t, eng)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	kv, err := eng.KV(ctx, Bucket, 1)
	require.NoError(t, err)
	live := pendingKey{node: a.broker.cluster.node, client: "pub", id: 7}.String()
	gone := pendingKey{node: "0123456789abcdef", client: "pub", id: 8}.String()
	for i, key := range []string{live, gone} {
		m := message(mpackets.Packet{
			FixedHeader: mpackets.FixedHeader{Type: mpackets.Publish, Qos: 1},
			TopicName:   "p/x", PacketID: uint16(7 + i), Payload: []byte("pending"), Origin: "pub",
		})
		m.ID, m.Client = key, "pub"
		v, err := m.MarshalBinary()
		require.NoError(t, err)
		_, err = kv.Put(ctx, key, v)
		require.NoError(t, err)
	}

	startClustered(t, eng)
	keys := storedKeys(t, eng)
	require.Contains(t, keys, live)
	require.NotContains(t, keys, gone)
}

// A 3.1.1 connection taken over by a connection to another broker is closed
// without a DISCONNECT (3.1.1 has none), and its persistent session moves.
func TestClusterTakeoverOf311(t *testing.T) {
	t.Parallel()
	eng := enginetest.New(t)
	a, b := startClustered(t, eng), startClustered(t, eng)
	persistent := connectPacket(4, "old-client", root.Username, root.Password)
	persistent.Connect.Clean = false
	first := dialRaw(t, a.MQTTAddr(), 4)
	require.Equal(t, byte(0), first.connect(persistent).ReasonCode)
	first.sub("v3/#", 1)

	second := dialRaw(t, b.MQTTAddr(), 4)
	ack := second.connect(persistent)
	require.Equal(t, byte(0), ack.ReasonCode)
	require.True(t, ack.SessionPresent)
	first.expectClosed()
	publishOK(t, a, "v3/x", "qos=1", "moved")
	require.Equal(t, "v3/x=moved", second.nextPayload())
}
