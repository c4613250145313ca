package mqtt

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	mp "github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/require"
)

// raw is an MQTT client that writes and reads packets as they are, with
// mochi's packets package, so that a test sees every byte a real client
// would: what a client library hides (reason codes it swallows, properties
// it drops, a DISCONNECT before a close) is asserted here.
type raw struct {
	t      *testing.T
	conn   net.Conn
	r      *bufio.Reader
	v      byte // protocol version: 4 (3.1.1) or 5
	nextID uint16
	queued [][]byte // packets read while waiting for another, read first
}

// dialRaw opens a TCP connection to addr for an MQTT client of version v;
// the test closes it when it ends.
func dialRaw(t *testing.T, addr string, v byte) *raw {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return &raw{t: t, conn: conn, r: bufio.NewReader(conn), v: v}
}

// connectPacket is a CONNECT of version v; user "" sends no credentials.
func connectPacket(v byte, clientID, user, password string) mp.Packet {
	pk := mp.Packet{
		FixedHeader:     mp.FixedHeader{Type: mp.Connect},
		ProtocolVersion: v,
		Connect: mp.ConnectParams{
			ProtocolName:     []byte("MQTT"),
			ClientIdentifier: clientID,
			Clean:            true,
			Keepalive:        30,
		},
	}
	if user != "" {
		pk.Connect.UsernameFlag, pk.Connect.Username = true, []byte(user)
		pk.Connect.PasswordFlag, pk.Connect.Password = true, []byte(password)
	}
	return pk
}

// connect sends pk and returns the CONNACK.
func (c *raw) connect(pk mp.Packet) mp.Packet {
	c.t.Helper()
	c.send(pk)
	return c.expect(mp.Connack)
}

// encode returns the bytes of pk as a client of c's version sends them.
func (c *raw) encode(pk mp.Packet) []byte {
	c.t.Helper()
	pk.ProtocolVersion = c.v
	pk.Mods.AllowResponseInfo = true // a client may send response topics and correlation data
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case mp.Connect:
		err = pk.ConnectEncode(&buf)
	case mp.Publish:
		err = pk.PublishEncode(&buf)
	case mp.Puback:
		err = pk.PubackEncode(&buf)
	case mp.Pubrec:
		err = pk.PubrecEncode(&buf)
	case mp.Pubrel:
		err = pk.PubrelEncode(&buf)
	case mp.Pubcomp:
		err = pk.PubcompEncode(&buf)
	case mp.Subscribe:
		err = pk.SubscribeEncode(&buf)
	case mp.Unsubscribe:
		err = pk.UnsubscribeEncode(&buf)
	case mp.Pingreq:
		err = pk.PingreqEncode(&buf)
	case mp.Disconnect:
		err = pk.DisconnectEncode(&buf)
	default:
		c.t.Fatalf("raw client cannot send packet type %d", pk.FixedHeader.Type)
	}
	require.NoError(c.t, err)
	return buf.Bytes()
}

func (c *raw) send(pk mp.Packet) {
	c.t.Helper()
	_, err := c.conn.Write(c.encode(pk))
	require.NoError(c.t, err)
}

// readRaw reads the next packet's bytes, or returns the read error.
func (c *raw) readRaw() ([]byte, error) {
	if len(c.queued) > 0 {
		b := c.queued[0]
		c.queued = c.queued[1:]
		return b, nil
	}
	if err := c.conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
		return nil, err
	}
	first, err := c.r.ReadByte()
	if err != nil {
		return nil, err
	}
	out := []byte{first}
	var length, mul int
	for i := 0; ; i++ {
		b, err := c.r.ReadByte()
		if err != nil {
			return nil, err
		}
		out = append(out, b)
		length += int(b&0x7f) << mul
		mul += 7
		if b&0x80 == 0 || i == 3 {
			break
		}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(c.r, body); err != nil {
		return nil, err
	}
	return append(out, body...), nil
}

// read returns the next packet the broker sends, decoded, with its bytes.
func (c *raw) read() (mp.Packet, []byte) {
	c.t.Helper()
	b, err := c.readRaw()
	require.NoError(c.t, err, "reading a packet")
	var pk mp.Packet
	pk.ProtocolVersion = c.v
	require.NoError(c.t, pk.FixedHeader.Decode(b[0]))
	body := b[1:]
	for body[0]&0x80 != 0 {
		body = body[1:]
	}
	body = body[1:]
	pk.FixedHeader.Remaining = len(body)
	decoders := map[byte]func([]byte) error{
		mp.Connack: pk.ConnackDecode, mp.Publish: pk.PublishDecode, mp.Puback: pk.PubackDecode,
		mp.Pubrec: pk.PubrecDecode, mp.Pubrel: pk.PubrelDecode, mp.Pubcomp: pk.PubcompDecode,
		mp.Suback: pk.SubackDecode, mp.Unsuback: pk.UnsubackDecode, mp.Pingresp: pk.PingrespDecode,
		mp.Disconnect: pk.DisconnectDecode,
	}
	decode, ok := decoders[pk.FixedHeader.Type]
	require.True(c.t, ok, "the broker sent packet type %d, which no server sends", pk.FixedHeader.Type)
	require.NoError(c.t, decode(body), "decoding % x", b)
	return pk, b
}

// expect reads the next packet and requires its type.
func (c *raw) expect(typ byte) mp.Packet {
	c.t.Helper()
	pk, b := c.read()
	require.Equal(c.t, mp.PacketNames[typ], mp.PacketNames[pk.FixedHeader.Type], "packet % x", b)
	return pk
}

// expectClosed requires the broker to close the connection before sending
// anything more.
func (c *raw) expectClosed() {
	c.t.Helper()
	b, err := c.readRaw()
	require.Error(c.t, err, "expected the connection to close, got packet % x", b)
	require.False(c.t, errors.Is(err, os.ErrDeadlineExceeded), "the broker did not close the connection within %v", wait)
}

func (c *raw) id() uint16 {
	c.nextID++
	return c.nextID
}

// publish sends a publish and, for QoS 1 and 2, returns the PUBACK or PUBREC
// (completing QoS 2 with PUBREL and PUBCOMP when it is a success).
func (c *raw) publish(pk mp.Packet) mp.Packet {
	c.t.Helper()
	pk.FixedHeader.Type = mp.Publish
	if pk.FixedHeader.Qos > 0 && pk.PacketID == 0 {
		pk.PacketID = c.id()
	}
	c.send(pk)
	switch pk.FixedHeader.Qos {
	case 1:
		ack := c.expect(mp.Puback)
		require.Equal(c.t, pk.PacketID, ack.PacketID)
		return ack
	case 2:
		rec := c.expect(mp.Pubrec)
		require.Equal(c.t, pk.PacketID, rec.PacketID)
		if rec.ReasonCode < 0x80 {
			c.send(mp.Packet{FixedHeader: mp.FixedHeader{Type: mp.Pubrel, Qos: 1}, PacketID: pk.PacketID})
			require.Equal(c.t, pk.PacketID, c.expect(mp.Pubcomp).PacketID)
		}
		return rec
	}
	return mp.Packet{}
}

// pub publishes payload on topic at qos and requires it to be accepted. It
// returns once the broker has routed the message to the subscribers (mochi
// acknowledges before routing; a ping answered after it is the barrier).
func (c *raw) pub(topic, payload string, qos byte, retain bool) {
	c.t.Helper()
	ack := c.publish(mp.Packet{FixedHeader: mp.FixedHeader{Qos: qos, Retain: retain}, TopicName: topic, Payload: []byte(payload)})
	require.Less(c.t, ack.ReasonCode, byte(0x80), "publish to %s refused", topic)
	c.barrier()
}

// barrier returns once the broker has processed every packet c sent: it
// answers PINGREQ in order. Packets that come before the PINGRESP are read
// again by the next read.
func (c *raw) barrier() {
	c.t.Helper()
	c.send(mp.Packet{FixedHeader: mp.FixedHeader{Type: mp.Pingreq}})
	var before [][]byte
	for {
		b, err := c.readRaw()
		require.NoError(c.t, err)
		if b[0]>>4 == mp.Pingresp {
			c.queued = append(before, c.queued...)
			return
		}
		before = append(before, b)
	}
}

// subscribe sends a SUBSCRIBE and returns the SUBACK.
func (c *raw) subscribe(props mp.Properties, subs ...mp.Subscription) mp.Packet {
	c.t.Helper()
	pk := mp.Packet{FixedHeader: mp.FixedHeader{Type: mp.Subscribe, Qos: 1}, PacketID: c.id(), Filters: subs, Properties: props}
	c.send(pk)
	ack := c.expect(mp.Suback)
	require.Equal(c.t, pk.PacketID, ack.PacketID)
	require.Len(c.t, ack.ReasonCodes, len(subs))
	return ack
}

// sub subscribes to filter at qos and requires it to be granted.
func (c *raw) sub(filter string, qos byte) {
	c.t.Helper()
	ack := c.subscribe(mp.Properties{}, mp.Subscription{Filter: filter, Qos: qos})
	require.Equal(c.t, []byte{qos}, ack.ReasonCodes, "subscribe to %s", filter)
}

// next reads the next PUBLISH and acknowledges it (QoS 1 and 2).
func (c *raw) next() mp.Packet {
	c.t.Helper()
	pk := c.expect(mp.Publish)
	c.ack(pk)
	return pk
}

func (c *raw) ack(pk mp.Packet) {
	c.t.Helper()
	switch pk.FixedHeader.Qos {
	case 1:
		c.send(mp.Packet{FixedHeader: mp.FixedHeader{Type: mp.Puback}, PacketID: pk.PacketID})
	case 2:
		c.send(mp.Packet{FixedHeader: mp.FixedHeader{Type: mp.Pubrec}, PacketID: pk.PacketID})
		c.expect(mp.Pubrel)
		c.send(mp.Packet{FixedHeader: mp.FixedHeader{Type: mp.Pubcomp}, PacketID: pk.PacketID})
	}
}

// nextPayload reads the next PUBLISH and returns its topic and payload.
func (c *raw) nextPayload() string {
	c.t.Helper()
	pk := c.next()
	return pk.TopicName + "=" + string(pk.Payload)
}

func (c *raw) disconnect() {
	c.t.Helper()
	c.send(mp.Packet{FixedHeader: mp.FixedHeader{Type: mp.Disconnect}})
	c.expectClosed()
}

func (c *raw) ping() {
	c.t.Helper()
	c.send(mp.Packet{FixedHeader: mp.FixedHeader{Type: mp.Pingreq}})
	c.expect(mp.Pingresp)
}
