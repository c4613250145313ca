package mqtt

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mp "github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/engine/enginetest"
)

// The conformance suite checks the broker, as herald assembles it (durable
// store on, herald's hooks), against MQTT 5 and 3.1.1 with raw packets: every
// case runs for each protocol version it applies to, in parallel, against one
// broker, each on topics and client ids of its own.

// conformanceUsers are the suite's accounts: root may do everything; limited
// has allow and deny rules and %u / %c patterns; anonymous clients are
// allowed on public/#.
func conformanceConfig() Config {
	deny := false
	return Config{
		Addr:           "127.0.0.1:0",
		HTTPAddr:       "127.0.0.1:0",
		AllowAnonymous: true,
		AnonymousACL: []ACLRule{
			{Action: ActionPublish, Filter: "public/#"},
			{Action: ActionSubscribe, Filter: "public/#"},
		},
		Users: []User{root, {Username: "limited", Password: "pw", ACL: []ACLRule{
			{Action: ActionPublish, Filter: "acl/#"},
			{Action: ActionSubscribe, Filter: "acl/#"},
			{Action: ActionSubscribe, Filter: "acl/+/nosubscribe", Allow: &deny},
			{Action: ActionPublish, Filter: "acl/+/nopublish", Allow: &deny},
			{Action: ActionPublish, Filter: "clients/%c/#"},
			{Action: ActionSubscribe, Filter: "users/%u/#"},
		}}},
		MaxKeepAlive:  60,
		MaxPacketSize: 64 << 10,
	}
}

// env is one case's view of the broker: its protocol version and the prefix
// of its topics and client ids.
type env struct {
	t      *testing.T
	s      *Server
	v      byte
	prefix string
}

func (e env) v5() bool { return e.v == 5 }

// topic is a topic of this case's own.
func (e env) topic(name string) string { return e.prefix + "/" + name }

// id is a client id of this case's own.
func (e env) id(name string) string { return strings.ReplaceAll(e.prefix, "/", "-") + "-" + name }

// dial connects a client as root with a clean session.
func (e env) dial(name string) *raw {
	e.t.Helper()
	return e.dialWith(connectPacket(e.v, e.id(name), root.Username, root.Password))
}

// dialWith connects with pk and requires the CONNACK to accept it.
func (e env) dialWith(pk mp.Packet) *raw {
	e.t.Helper()
	c := dialRaw(e.t, e.s.MQTTAddr(), e.v)
	ack := c.connect(pk)
	require.Equal(e.t, byte(0), ack.ReasonCode, "CONNACK refused: %s", ack.Properties.ReasonString)
	return c
}

// refused connects with pk and returns the refusing CONNACK; the broker must
// close the connection after it.
func (e env) refused(pk mp.Packet) mp.Packet {
	e.t.Helper()
	c := dialRaw(e.t, e.s.MQTTAddr(), e.v)
	ack := c.connect(pk)
	require.NotZero(e.t, ack.ReasonCode)
	c.expectClosed()
	return ack
}

// persistent is a CONNECT that keeps its session for an hour after the
// connection ends (MQTT 5, starting clean or resuming) or for ever (3.1.1
// clean session false, whatever clean says).
func (e env) persistent(name string, clean bool) mp.Packet {
	pk := connectPacket(e.v, e.id(name), root.Username, root.Password)
	pk.Connect.Clean = clean && e.v5()
	if e.v5() {
		pk.Properties.SessionExpiryInterval, pk.Properties.SessionExpiryIntervalFlag = 3600, true
	}
	return pk
}

// marker publishes a QoS 1 message on topic from a fresh client and
// requires c to receive it next: whatever c should not have received before
// it, it did not.
func (e env) marker(c *raw, topic string) {
	e.t.Helper()
	e.dial("marker-"+fmt.Sprint(c.nextID)).pub(topic, "marker", 1, false)
	require.Equal(e.t, topic+"=marker", c.nextPayload())
}

func publishPacket(topic, payload string, qos byte, retain bool) mp.Packet {
	return mp.Packet{FixedHeader: mp.FixedHeader{Type: mp.Publish, Qos: qos, Retain: retain}, TopicName: topic, Payload: []byte(payload)}
}

type conformanceCase struct {
	name string
	v3   bool // runs for 3.1.1 too
	run  func(e env)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	eng := enginetest.Open(t, t.TempDir())
	s, err := New(conformanceConfig(), discard(), nil, WithStore(eng.KV, eng.JS.Stream))
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { stopServer(t, s) })
	runConformance(t, s)
}

// The same cases against one of two brokers of a cluster: what a client of
// one process sees is the same (shared subscriptions go through the
// cluster's queues, every publish through its stream, every CONNECT claims
// the client id).
func TestConformanceClustered(t *testing.T) {
	t.Parallel()
	eng := enginetest.Open(t, t.TempDir())
	var s *Server
	for range 2 {
		b, err := New(conformanceConfig(), discard(), nil, WithStore(eng.KV, eng.JS.Stream),
			WithCluster(Cluster{Conn: eng.NC, JS: eng.JS, Stream: eng.Stream}))
		require.NoError(t, err)
		require.NoError(t, b.Start(context.Background()))
		t.Cleanup(func() { stopServer(t, b) })
		s = b
	}
	runConformance(t, s)
}

func runConformance(t *testing.T, s *Server) {
	for _, tc := range conformanceCases {
		for _, v := range []byte{5, 4} {
			if v == 4 && !tc.v3 {
				continue
			}
			name := fmt.Sprintf("%s/v%d", tc.name, map[byte]int{4: 311, 5: 5}[v])
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				tc.run(env{t: t, s: s, v: v, prefix: "c/" + strings.ReplaceAll(name, " ", "_")})
			})
		}
	}
}

var conformanceCases = []conformanceCase{
	{"retained set replace clear", true, func(e env) {
		p, topic := e.dial("pub"), e.topic("r")
		p.pub(topic, "one", 1, true)
		s1 := e.dial("s1")
		s1.sub(topic, 1)
		got := s1.next()
		require.Equal(e.t, "one", string(got.Payload))
		require.True(e.t, got.FixedHeader.Retain, "a retained message sent on subscribe has RETAIN set")

		p.pub(topic, "two", 1, true)
		live := s1.next()
		require.Equal(e.t, "two", string(live.Payload))
		require.False(e.t, live.FixedHeader.Retain, "a live message has RETAIN clear [MQTT-3.3.1-9]")
		s2 := e.dial("s2")
		s2.sub(topic, 1)
		require.Equal(e.t, "two", string(s2.next().Payload), "replaced")

		p.pub(topic, "", 1, true) // clears it, and is delivered as a normal message
		require.Empty(e.t, s1.next().Payload)
		s3 := e.dial("s3")
		s3.sub(topic, 1)
		e.marker(s3, topic) // no retained message came first
	}},
	{"will on abrupt close not on disconnect", true, func(e env) {
		s, topic := e.dial("sub"), e.topic("will")
		s.sub(topic, 1)
		pk := connectPacket(e.v, e.id("dies"), root.Username, root.Password)
		pk.Connect.WillFlag, pk.Connect.WillTopic, pk.Connect.WillPayload, pk.Connect.WillQos = true, topic, []byte("gone"), 1
		if e.v5() {
			wp := &pk.Connect.WillProperties
			wp.PayloadFormat, wp.PayloadFormatFlag, wp.ContentType = 1, true, "text/plain"
			wp.ResponseTopic, wp.CorrelationData = e.topic("reply"), []byte{7}
			wp.MessageExpiryInterval = 3600
			wp.User = []mp.UserProperty{{Key: "k", Val: "v"}}
		}
		dies := e.dialWith(pk)
		require.NoError(e.t, dies.conn.Close())
		got := s.next()
		require.Equal(e.t, topic+"=gone", got.TopicName+"="+string(got.Payload))
		require.Equal(e.t, byte(1), got.FixedHeader.Qos)
		if e.v5() {
			p := got.Properties
			require.True(e.t, p.PayloadFormatFlag, "the will's properties [MQTT-3.1.3-10]")
			require.Equal(e.t, byte(1), p.PayloadFormat)
			require.Equal(e.t, "text/plain", p.ContentType)
			require.Equal(e.t, e.topic("reply"), p.ResponseTopic)
			require.Equal(e.t, []byte{7}, p.CorrelationData)
			require.Equal(e.t, uint32(3600), p.MessageExpiryInterval)
			require.Equal(e.t, []mp.UserProperty{{Key: "k", Val: "v"}}, p.User)
		}

		pk.Connect.ClientIdentifier = e.id("leaves")
		e.dialWith(pk).disconnect()
		e.marker(s, topic) // normal DISCONNECT discards the will [MQTT-3.1.2-10]
	}},
	{"will delay", false, func(e env) {
		s, topic := e.dial("sub"), e.topic("will")
		s.sub(topic, 1)
		pk := e.persistent("dies", true)
		pk.Connect.WillFlag, pk.Connect.WillTopic, pk.Connect.WillPayload, pk.Connect.WillQos = true, topic, []byte("late"), 1
		pk.Connect.WillProperties.WillDelayInterval = 1
		c := e.dialWith(pk)
		closed := time.Now()
		require.NoError(e.t, c.conn.Close())
		late := s.next()
		require.Equal(e.t, "late", string(late.Payload))
		require.Zero(e.t, late.Properties.MessageExpiryInterval, "the will had no expiry")
		// A lower bound only, which load cannot break: the will waited.
		require.Greater(e.t, time.Since(closed), time.Second, "the will waits for its delay")
	}},
	{"will delay canceled by reconnecting", false, func(e env) {
		s, topic := e.dial("sub"), e.topic("will")
		s.sub(topic, 1)
		will := func(name, payload string, delay uint32) mp.Packet {
			pk := e.persistent(name, true)
			pk.Connect.WillFlag, pk.Connect.WillTopic, pk.Connect.WillPayload, pk.Connect.WillQos = true, topic, []byte(payload), 1
			pk.Connect.WillProperties.WillDelayInterval = delay
			return pk
		}
		require.NoError(e.t, e.dialWith(will("back", "canceled", 1)).conn.Close())
		resumed := will("back", "canceled", 1)
		resumed.Connect.Clean = false
		e.dialWith(resumed) // [MQTT-3.1.3-9]: the will is not sent
		// A will due a second after the canceled one's time is the clock.
		require.NoError(e.t, e.dialWith(will("clock", "clock", 2)).conn.Close())
		require.Equal(e.t, topic+"=clock", s.nextPayload())
	}},
	{"zero-length client id", true, func(e env) {
		pk := connectPacket(e.v, "", root.Username, root.Password)
		c := dialRaw(e.t, e.s.MQTTAddr(), e.v)
		ack := c.connect(pk)
		require.Equal(e.t, byte(0), ack.ReasonCode)
		if e.v5() {
			require.NotEmpty(e.t, ack.Properties.AssignedClientID, "[MQTT-3.2.2-16]")
		}
		c.ping()
		if !e.v5() {
			pk.Connect.Clean = false
			ack := e.refused(pk)
			require.Equal(e.t, byte(connack3IdentifierRejected), ack.ReasonCode, "[MQTT-3.1.3-8]")
		}
	}},
	{"offline queueing for a persistent session", true, func(e env) {
		topic := e.topic("q")
		c := e.dialWith(e.persistent("p", true))
		c.sub(topic, 1)
		c.disconnect()
		p := e.dial("pub")
		for i := range 3 {
			p.pub(topic, fmt.Sprint(i), 1, false)
		}
		c = dialRaw(e.t, e.s.MQTTAddr(), e.v)
		ack := c.connect(e.persistent("p", false))
		require.True(e.t, ack.SessionPresent)
		for i := range 3 {
			require.Equal(e.t, fmt.Sprintf("%s=%d", topic, i), c.nextPayload(), "in order")
		}
	}},
	{"overlapping subscriptions", true, func(e env) {
		c, topic := e.dial("sub"), e.topic("a/b")
		c.sub(e.topic("#"), 0)
		c.sub(topic, 1)
		e.dial("pub").pub(topic, "x", 1, false)
		got := c.next()
		require.Equal(e.t, byte(1), got.FixedHeader.Qos, "one copy at the highest QoS granted")
		e.marker(c, topic)
	}},
	{"keep-alive and server keep alive", true, func(e env) {
		for _, tc := range []struct {
			ask, want uint16
			flag      bool
		}{{0, 60, true}, {3600, 60, true}, {30, 0, false}} {
			pk := connectPacket(e.v, e.id(fmt.Sprint("k", tc.ask)), root.Username, root.Password)
			pk.Connect.Keepalive = tc.ask
			c := dialRaw(e.t, e.s.MQTTAddr(), e.v)
			ack := c.connect(pk)
			require.Equal(e.t, byte(0), ack.ReasonCode)
			if e.v5() {
				require.Equal(e.t, tc.flag, ack.Properties.ServerKeepAliveFlag, "asked %d", tc.ask)
				require.Equal(e.t, tc.want, ack.Properties.ServerKeepAlive, "asked %d", tc.ask)
			} else {
				require.False(e.t, ack.Properties.ServerKeepAliveFlag, "no properties in 3.1.1")
			}
		}
		// One and a half keep-alives without a packet close the connection.
		pk := connectPacket(e.v, e.id("silent"), root.Username, root.Password)
		pk.Connect.Keepalive = 1
		e.dialWith(pk).expectClosed()
	}},
	{"redelivery on reconnect", true, func(e env) {
		topic := e.topic("r")
		c := e.dialWith(e.persistent("p", true))
		c.sub(topic, 1)
		e.dial("pub").pub(topic, "again", 1, false)
		first := c.expect(mp.Publish) // not acknowledged
		require.False(e.t, first.FixedHeader.Dup)
		require.NoError(e.t, c.conn.Close())
		c = dialRaw(e.t, e.s.MQTTAddr(), e.v)
		require.True(e.t, c.connect(e.persistent("p", false)).SessionPresent)
		again := c.next()
		require.Equal(e.t, "again", string(again.Payload))
		require.True(e.t, again.FixedHeader.Dup, "[MQTT-3.3.1-1]")
		require.Equal(e.t, first.PacketID, again.PacketID, "[MQTT-4.4.0-1]")
	}},
	{"QoS 2 redelivery: PUBREL again after PUBREC", true, func(e env) {
		topic := e.topic("r2")
		c := e.dialWith(e.persistent("p", true))
		c.sub(topic, 2)
		e.dial("pub").pub(topic, "once", 2, false)
		got := c.expect(mp.Publish)
		c.send(mp.Packet{FixedHeader: mp.FixedHeader{Type: mp.Pubrec}, PacketID: got.PacketID})
		require.Equal(e.t, got.PacketID, c.expect(mp.Pubrel).PacketID)
		require.NoError(e.t, c.conn.Close()) // before PUBCOMP
		c = dialRaw(e.t, e.s.MQTTAddr(), e.v)
		require.True(e.t, c.connect(e.persistent("p", false)).SessionPresent)
		rel := c.expect(mp.Pubrel) // not the message again [MQTT-4.4.0-1]
		require.Equal(e.t, got.PacketID, rel.PacketID)
		c.send(mp.Packet{FixedHeader: mp.FixedHeader{Type: mp.Pubcomp}, PacketID: rel.PacketID})
		e.marker(c, topic)
	}},
	{"subscribe refused by the ACL", true, func(e env) {
		c := e.dialWith(connectPacket(e.v, e.id("l"), "limited", "pw"))
		refused := byte(0x87)
		if !e.v5() {
			refused = 0x80
		}
		base := "acl/" + e.id("x")
		ack := c.subscribe(mp.Properties{},
			mp.Subscription{Filter: base + "/ok", Qos: 1},
			mp.Subscription{Filter: "acl/" + e.id("x") + "/nosubscribe", Qos: 1},
			mp.Subscription{Filter: "#", Qos: 1},
			mp.Subscription{Filter: "users/limited/#", Qos: 0},
			mp.Subscription{Filter: "users/root/#", Qos: 0},
			mp.Subscription{Filter: "a/#/b", Qos: 0},
		)
		invalid := byte(0x8F)
		if !e.v5() {
			invalid = 0x80
		}
		require.Equal(e.t, []byte{1, refused, refused, 0, refused, invalid}, ack.ReasonCodes)
		// A granted filter that a deny rule partly covers does not deliver the denied topics.
		ack = c.subscribe(mp.Properties{}, mp.Subscription{Filter: base + "/#", Qos: 1})
		require.Equal(e.t, []byte{1}, ack.ReasonCodes)
		r := e.dial("root")
		r.pub(base+"/nosubscribe", "hidden", 1, false)
		r.pub(base+"/ok", "shown", 1, false)
		require.Equal(e.t, base+"/ok=shown", c.nextPayload())
	}},
	{"publish refused by the ACL", true, func(e env) {
		l := e.dialWith(connectPacket(e.v, e.id("l"), "limited", "pw"))
		r := e.dial("root")
		base := "acl/" + e.id("x")
		r.sub(base+"/#", 1)
		other := "clients/" + e.id("other") + "/x"
		r.sub("clients/"+e.id("l")+"/#", 1)
		r.sub(other, 1)
		for _, topic := range []string{base + "/nopublish", "elsewhere/x", other} {
			for _, qos := range []byte{0, 1, 2} {
				ack := l.publish(publishPacket(topic, "no", qos, false))
				switch {
				case qos == 0:
				case e.v5():
					require.Equal(e.t, byte(0x87), ack.ReasonCode, "%s QoS %d", topic, qos)
				default: // 3.1.1: acknowledged and dropped, never a DISCONNECT
					require.Equal(e.t, byte(0), ack.ReasonCode, "%s QoS %d", topic, qos)
				}
			}
		}
		l.ping() // still connected
		l.pub("clients/"+e.id("l")+"/x", "mine", 1, false)
		require.Equal(e.t, "clients/"+e.id("l")+"/x=mine", r.nextPayload(), "%%c pattern; nothing refused was delivered")
	}},
	{"anonymous acl", true, func(e env) {
		a := e.dialWith(connectPacket(e.v, e.id("anon"), "", ""))
		ack := a.subscribe(mp.Properties{}, mp.Subscription{Filter: "public/" + e.id("t"), Qos: 1}, mp.Subscription{Filter: e.topic("t"), Qos: 1})
		refused := byte(0x87)
		if !e.v5() {
			refused = 0x80
		}
		require.Equal(e.t, []byte{1, refused}, ack.ReasonCodes)
		a.pub("public/"+e.id("t"), "hi", 1, false)
		require.Equal(e.t, "public/"+e.id("t")+"=hi", a.nextPayload())
	}},
	{"unsubscribe", true, func(e env) {
		c, topic := e.dial("sub"), e.topic("u")
		c.sub(topic, 1)
		c.sub(e.topic("other"), 1)
		pk := mp.Packet{FixedHeader: mp.FixedHeader{Type: mp.Unsubscribe, Qos: 1}, PacketID: c.id(), Filters: mp.Subscriptions{{Filter: topic}, {Filter: e.topic("never")}}}
		c.send(pk)
		ack := c.expect(mp.Unsuback)
		require.Equal(e.t, pk.PacketID, ack.PacketID)
		if e.v5() {
			require.Equal(e.t, []byte{0x00, 0x11}, ack.ReasonCodes, "success, no subscription existed")
		}
		e.dial("pub").pub(topic, "gone", 1, false)
		e.marker(c, e.topic("other"))
	}},
	{"session expiry", true, func(e env) {
		topic := e.topic("s")
		if !e.v5() {
			// 3.1.1: clean session true ends the session with the connection.
			c := e.dialWith(e.persistent("p", false))
			c.sub(topic, 1)
			c.disconnect()
			c = dialRaw(e.t, e.s.MQTTAddr(), e.v)
			require.True(e.t, c.connect(e.persistent("p", false)).SessionPresent)
			c.disconnect()
			clean := e.persistent("p", false)
			clean.Connect.Clean = true
			c = dialRaw(e.t, e.s.MQTTAddr(), e.v)
			require.False(e.t, c.connect(clean).SessionPresent)
			return
		}
		pk := e.persistent("p", true)
		pk.Properties.SessionExpiryInterval = 1
		e.dialWith(pk).disconnect()
		require.Eventually(e.t, func() bool {
			_, ok := e.s.broker.srv.Clients.Get(e.id("p"))
			return !ok
		}, wait, 100e6, "the session expires after its interval")
		c := dialRaw(e.t, e.s.MQTTAddr(), e.v)
		pk.Connect.Clean = false
		require.False(e.t, c.connect(pk).SessionPresent)
	}},
	{"user properties", false, func(e env) {
		c, topic := e.dial("sub"), e.topic("up")
		props := []mp.UserProperty{{Key: "a", Val: "1"}, {Key: "b", Val: "2"}, {Key: "a", Val: "3"}}
		ack := c.subscribe(mp.Properties{User: props}, mp.Subscription{Filter: topic, Qos: 2})
		require.Empty(e.t, ack.Properties.User, "SUBACK copies no user property")
		p := e.dial("pub")
		for _, qos := range []byte{1, 2} {
			pk := publishPacket(topic, "x", qos, false)
			pk.Properties.User = props
			pk.PacketID = p.id()
			p.send(pk)
			b := p.readAck(qos)
			require.Equal(e.t, []byte{ackType(qos) << 4, 2, byte(pk.PacketID >> 8), byte(pk.PacketID)}, b,
				"QoS %d: the acknowledgement is success with no properties: % x", qos, b)
			if qos == 2 {
				p.send(mp.Packet{FixedHeader: mp.FixedHeader{Type: mp.Pubrel, Qos: 1}, PacketID: pk.PacketID})
				require.Empty(e.t, p.expect(mp.Pubcomp).Properties.User)
			}
			require.Equal(e.t, props, c.next().Properties.User, "delivered in order")
		}
	}},
	{"payload format, content type, request/response", false, func(e env) {
		c, topic := e.dial("sub"), e.topic("p")
		c.sub(topic, 1)
		pk := publishPacket(topic, "héllo", 1, false)
		pk.Properties.PayloadFormat, pk.Properties.PayloadFormatFlag = 1, true
		pk.Properties.ContentType = "text/plain"
		pk.Properties.ResponseTopic = e.topic("reply")
		pk.Properties.CorrelationData = []byte{0, 1, 2}
		e.dial("pub").publish(pk)
		got := c.next().Properties
		require.True(e.t, got.PayloadFormatFlag)
		require.Equal(e.t, byte(1), got.PayloadFormat)
		require.Equal(e.t, "text/plain", got.ContentType)
		require.Equal(e.t, e.topic("reply"), got.ResponseTopic)
		require.Equal(e.t, []byte{0, 1, 2}, got.CorrelationData)
	}},
	{"message expiry", false, func(e env) {
		topic := e.topic("m")
		c := e.dialWith(e.persistent("p", true))
		c.sub(topic, 1)
		c.disconnect()
		p := e.dial("pub")
		short := publishPacket(topic, "short", 1, false)
		short.Properties.MessageExpiryInterval = 1
		p.publish(short)
		long := publishPacket(topic, "long", 1, false)
		long.Properties.MessageExpiryInterval = 3600
		p.publish(long)
		require.Eventually(e.t, func() bool {
			cl, ok := e.s.broker.srv.Clients.Get(e.id("p"))
			if !ok {
				return false
			}
			// Only "long": on a clustered broker "long" may reach the
			// session after "short" has.
			held := cl.State.Inflight.GetAll(false)
			return len(held) == 1 && string(held[0].Payload) == "long"
		}, wait, 100e6, "the expired message leaves the session")
		c = dialRaw(e.t, e.s.MQTTAddr(), e.v)
		c.connect(e.persistent("p", false))
		got := c.next()
		require.Equal(e.t, "long", string(got.Payload))
		require.LessOrEqual(e.t, got.Properties.MessageExpiryInterval, uint32(3600))
		require.Greater(e.t, got.Properties.MessageExpiryInterval, uint32(3000), "what is left of it")
	}},
	{"receive maximum", true, func(e env) {
		c := dialRaw(e.t, e.s.MQTTAddr(), e.v)
		ack := c.connect(connectPacket(e.v, e.id("flood"), root.Username, root.Password))
		limit := 1024
		if e.v5() {
			require.Equal(e.t, uint16(limit), ack.Properties.ReceiveMaximum)
		}
		// QoS 2 publishes without PUBREL hold the quota; one more is too
		// many. The ones after it are still unread when the broker closes:
		// closing at once would send a reset, which can overtake the
		// DISCONNECT.
		var batch []byte
		for i := range limit + 200 {
			pk := publishPacket(e.topic("f"), "x", 2, false)
			pk.PacketID = uint16(i + 1)
			batch = append(batch, c.encode(pk)...)
		}
		_, err := c.conn.Write(batch)
		require.NoError(e.t, err)
		for range limit {
			c.expect(mp.Pubrec)
		}
		if e.v5() {
			d := c.expect(mp.Disconnect)
			require.Equal(e.t, byte(0x93), d.ReasonCode, "receive maximum exceeded")
		}
		c.expectClosed()
	}},
	{"topic aliases", false, func(e env) {
		c, topic := e.dial("sub"), e.topic("alias")
		c.sub(topic, 1)
		for _, user := range []User{root, {Username: "limited", Password: "pw"}} {
			if user.Username == "limited" {
				topic = "acl/" + e.id("alias")
				c.sub(topic, 1)
			}
			p := e.dialWith(connectPacket(e.v, e.id("pub-"+user.Username), user.Username, user.Password))
			first := publishPacket(topic, "1", 1, false)
			first.Properties.TopicAlias, first.Properties.TopicAliasFlag = 1, true
			p.pub(topic, "0", 1, false)
			require.Equal(e.t, byte(0), p.publish(first).ReasonCode)
			second := publishPacket("", "2", 1, false)
			second.Properties.TopicAlias, second.Properties.TopicAliasFlag = 1, true
			require.Equal(e.t, byte(0), p.publish(second).ReasonCode, "the ACL sees the aliased topic")
			for _, want := range []string{"0", "1", "2"} {
				require.Equal(e.t, topic+"="+want, c.nextPayload())
			}
		}
	}},
	{"maximum packet size", true, func(e env) {
		// The broker's: announced, and a larger packet closes the connection
		// (mochi closes without the optional DISCONNECT 0x95; see README).
		c := dialRaw(e.t, e.s.MQTTAddr(), e.v)
		ack := c.connect(connectPacket(e.v, e.id("big"), root.Username, root.Password))
		if e.v5() {
			require.Equal(e.t, uint32(64<<10), ack.Properties.MaximumPacketSize)
		}
		c.send(publishPacket(e.topic("big"), strings.Repeat("x", 64<<10), 0, false))
		c.expectClosed()
		if !e.v5() {
			return
		}
		// The client's: a message larger than it takes is not sent to it.
		pk := connectPacket(e.v, e.id("small"), root.Username, root.Password)
		pk.Properties.MaximumPacketSize = 100
		s := e.dialWith(pk)
		s.sub(e.topic("t"), 1)
		e.dial("pub").pub(e.topic("t"), strings.Repeat("y", 200), 1, false)
		e.marker(s, e.topic("t"))
	}},
	{"shared subscriptions", true, func(e env) {
		filter := "$share/g/" + e.topic("sh")
		a, b := e.dial("a"), e.dial("b")
		a.sub(filter, 1)
		b.sub(filter, 1)
		p := e.dial("pub")
		const n = 6
		for i := range n {
			p.pub(e.topic("sh"), fmt.Sprint(i), 1, false)
		}
		got := map[string]int{}
		received := make(chan string, n)
		for _, c := range []*raw{a, b} {
			go func() {
				for {
					b, err := c.readRaw()
					if err != nil {
						return
					}
					received <- string(b)
				}
			}()
		}
		for range n {
			got[<-received]++
		}
		require.Len(e.t, got, n, "each message once to one member of the group")
	}},
	{"subscription identifiers", false, func(e env) {
		c, topic := e.dial("sub"), e.topic("a")
		c.subscribe(mp.Properties{SubscriptionIdentifier: []int{7}}, mp.Subscription{Filter: topic, Qos: 1})
		c.subscribe(mp.Properties{SubscriptionIdentifier: []int{9}}, mp.Subscription{Filter: e.topic("+"), Qos: 1})
		e.dial("pub").pub(topic, "x", 1, false)
		ids := c.next().Properties.SubscriptionIdentifier
		require.ElementsMatch(e.t, []int{7, 9}, ids)
	}},
	{"no local", false, func(e env) {
		c, topic := e.dial("sub"), e.topic("n")
		c.subscribe(mp.Properties{}, mp.Subscription{Filter: topic, Qos: 1, NoLocal: true})
		c.pub(topic, "own", 1, false)
		e.marker(c, topic)
	}},
	{"retain as published and retain handling", false, func(e env) {
		topic := e.topic("r")
		p := e.dial("pub")
		p.pub(topic, "kept", 1, true)
		for _, tc := range []struct {
			rh       byte
			again    bool // subscribe a second time
			retained bool // the retained message is sent
		}{{0, false, true}, {0, true, true}, {1, false, true}, {1, true, false}, {2, false, false}} {
			c := e.dial(fmt.Sprint("rh", tc.rh, tc.again))
			sub := mp.Subscription{Filter: topic, Qos: 1, RetainHandling: tc.rh}
			if tc.again {
				c.subscribe(mp.Properties{}, sub)
				c.next()
			}
			c.subscribe(mp.Properties{}, sub)
			if tc.retained {
				require.Equal(e.t, "kept", string(c.next().Payload), "retain handling %d, again %v", tc.rh, tc.again)
			}
			e.marker(c, topic)
		}
		rap, plain := e.dial("rap"), e.dial("plain")
		rap.subscribe(mp.Properties{}, mp.Subscription{Filter: topic, Qos: 1, RetainAsPublished: true, RetainHandling: 2})
		plain.subscribe(mp.Properties{}, mp.Subscription{Filter: topic, Qos: 1, RetainHandling: 2})
		p.pub(topic, "live", 1, true)
		require.True(e.t, rap.next().FixedHeader.Retain, "retain as published")
		require.False(e.t, plain.next().FixedHeader.Retain)
	}},
	{"paho.golang client", false, func(e env) {
		// A client library's view of the same: acknowledgements it accepts,
		// properties delivered, keep-alive granted as asked.
		dialPaho := func(name string) *mqttClient {
			conn, err := net.Dial("tcp", e.s.MQTTAddr())
			require.NoError(e.t, err)
			c, ca, err := connect(e.t, conn, credentials(e.id(name), root.Username, root.Password))
			require.NoError(e.t, err)
			require.Nil(e.t, ca.Properties.ServerKeepAlive, "30 s is within max_keepalive")
			return c
		}
		sub, pub, topic := dialPaho("sub"), dialPaho("pub"), e.topic("p")
		sub.subscribe(e.t, topic, 2)
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		props := paho.UserProperties{{Key: "k", Value: "1"}, {Key: "k", Value: "2"}}
		for _, qos := range []byte{1, 2} {
			resp, err := pub.Publish(ctx, &paho.Publish{Topic: topic, QoS: qos, Payload: []byte("x"),
				Properties: &paho.PublishProperties{User: props}})
			require.NoError(e.t, err)
			require.Equal(e.t, byte(0), resp.ReasonCode)
			if resp.Properties != nil {
				require.Empty(e.t, resp.Properties.User, "QoS %d acknowledgement", qos)
			}
			require.Equal(e.t, props, sub.next(e.t).Properties.User)
		}
	}},
	{"refused connections", true, func(e env) {
		bad, notAuthorized := byte(0x86), byte(0x87)
		if !e.v5() {
			bad, notAuthorized = connack3BadCredentials, connack3NotAuthorized
		}
		for _, pk := range []mp.Packet{
			connectPacket(e.v, e.id("w"), "root", "wrong"),
			connectPacket(e.v, e.id("u"), "nobody", "x"),
		} {
			require.Equal(e.t, bad, e.refused(pk).ReasonCode, "bad user name or password")
		}
		will := connectPacket(e.v, e.id("will"), "limited", "pw")
		will.Connect.WillFlag, will.Connect.WillTopic, will.Connect.WillPayload = true, "elsewhere", []byte("x")
		require.Equal(e.t, notAuthorized, e.refused(will).ReasonCode, "a will outside the ACL")
	}},
}

// readAck reads the acknowledgement of a QoS 1 or 2 publish as bytes.
func (c *raw) readAck(qos byte) []byte {
	c.t.Helper()
	b, err := c.readRaw()
	require.NoError(c.t, err)
	require.Equal(c.t, ackType(qos), b[0]>>4, "packet % x", b)
	return b
}

func ackType(qos byte) byte {
	if qos == 2 {
		return mp.Pubrec
	}
	return mp.Puback
}
