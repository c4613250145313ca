package mqtt

import (
	"cmp"
	"encoding/json"
	"math"
	"slices"
	"sync"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// protocolHook corrects what mochi-mqtt v2.7.9 would send where it departs
// from the MQTT specifications, just before each packet is encoded, and
// adds what herald announces:
//   - CONNACK: Maximum Packet Size (MQTT 5), which mochi enforces but does
//     not announce; the refusal codes of 3.1.1 (4 for bad credentials where
//     mochi says 5, 2 for a zero-length client id without clean session
//     where mochi says 0x80) and the reason authHook gave for a refusal.
//   - Server Keep Alive (MQTT 5, set in OnConnect): an asked keep-alive of
//     0 or above MaxKeepAlive becomes MaxKeepAlive.
//   - PUBACK: reason 0x00 where mochi reuses 0x01 ("granted QoS 1"), which
//     is no PUBACK reason code; a refused QoS 2 publish gets a PUBREC.
//   - Acknowledgements (PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK)
//     never carry the user properties of the packet they acknowledge.
//   - No DISCONNECT to an MQTT 3.1.1 client: the packet does not exist there;
//     the connection is closed without it.
//   - A resumed session's messages are sent again in the order they were
//     first sent [MQTT-4.6.0-1] (OnSessionEstablish): mochi orders them by
//     the second they were sent in, and within a second at random.
//   - A will message keeps the properties of the CONNECT's will (payload
//     format, content type, response topic, correlation data, message
//     expiry), which mochi drops: OnWill carries them in a user property
//     that OnPacketEncode takes out again. A delayed will no longer goes out
//     with a Message Expiry Interval of 1 (mochi reuses the expiry field
//     for the delay).
type protocolHook struct {
	mochi.HookBase
	srv           *mochi.Server
	maxPacketSize uint32
	maxKeepAlive  uint16
	refusals      *refusals
	wills         sync.Map // *mochi.Client -> string: its will's properties, encoded
}

// willPropsKey is the user property that carries a will's properties from
// OnWill to OnPacketEncode. U+0000 cannot be in a client's own property
// name, so the key cannot be forged.
const willPropsKey = "\x00herald-will"

// willProps are the will properties that mochi's Will does not keep.
type willProps struct {
	PayloadFormat   *byte  `json:"pf,omitempty"`
	ContentType     string `json:"ct,omitempty"`
	ResponseTopic   string `json:"rt,omitempty"`
	CorrelationData []byte `json:"cd,omitempty"`
	MessageExpiry   uint32 `json:"me,omitempty"`
}

func (h *protocolHook) ID() string { return "herald-protocol" }

func (h *protocolHook) Provides(b byte) bool {
	switch b {
	case mochi.OnConnect, mochi.OnPacketEncode, mochi.OnSessionEstablish, mochi.OnWill, mochi.OnDisconnect:
		return true
	}
	return false
}

// OnWill adds the will's properties that mochi dropped, for OnPacketEncode.
func (h *protocolHook) OnWill(cl *mochi.Client, will mochi.Will) (mochi.Will, error) {
	if v, ok := h.wills.LoadAndDelete(cl); ok {
		will.User = append(slices.Clip(will.User), packets.UserProperty{Key: willPropsKey, Val: v.(string)})
	}
	return will, nil
}

// OnDisconnect forgets the will properties of a client whose will was not
// sent.
func (h *protocolHook) OnDisconnect(cl *mochi.Client, _ error, _ bool) { h.wills.Delete(cl) }

// keepWillProps stores the properties of pk's will that mochi drops.
func (h *protocolHook) keepWillProps(cl *mochi.Client, pk packets.Packet) {
	wp := pk.Connect.WillProperties
	if !pk.Connect.WillFlag || cl.Properties.ProtocolVersion < 5 {
		return
	}
	props := willProps{ContentType: wp.ContentType, ResponseTopic: wp.ResponseTopic, CorrelationData: wp.CorrelationData, MessageExpiry: wp.MessageExpiryInterval}
	if wp.PayloadFormatFlag {
		props.PayloadFormat = &wp.PayloadFormat
	}
	if props.PayloadFormat == nil && props.ContentType == "" && props.ResponseTopic == "" &&
		len(props.CorrelationData) == 0 && props.MessageExpiry == 0 {
		return
	}
	b, err := json.Marshal(props)
	if err != nil {
		return
	}
	h.wills.Store(cl, string(b))
}

// willProperties puts a will's own properties back into pk, a will message
// on its way to a subscriber.
func willProperties(pk packets.Packet) packets.Packet {
	if n := len(pk.Properties.User); n > 0 && pk.Properties.User[n-1].Key == willPropsKey {
		var props willProps
		_ = json.Unmarshal([]byte(pk.Properties.User[n-1].Val), &props)
		pk.Properties.User = pk.Properties.User[: n-1 : n-1]
		if props.PayloadFormat != nil {
			pk.Properties.PayloadFormat, pk.Properties.PayloadFormatFlag = *props.PayloadFormat, true
		}
		pk.Properties.ContentType = props.ContentType
		pk.Properties.ResponseTopic = props.ResponseTopic
		pk.Properties.CorrelationData = props.CorrelationData
		pk.Properties.MessageExpiryInterval = props.MessageExpiry
		return pk
	}
	if pk.Connect.WillProperties.WillDelayInterval > 0 {
		pk.Properties.MessageExpiryInterval = 0 // a delayed will without an expiry of its own
	}
	return pk
}

// OnSessionEstablish renumbers the Created times of the session's inflight
// messages, which mochi sorts them by (as seconds, cast to 16 bits) when it
// sends them again, so that the sort gives the order they were sent in: by
// time, then by packet id, which mochi hands out in increasing order. With
// no maximum message expiry (herald sets none), Created is used for nothing
// else but the store's record of when the message was sent.
func (h *protocolHook) OnSessionEstablish(cl *mochi.Client, pk packets.Packet) {
	if pk.Connect.Clean {
		return
	}
	old, ok := h.srv.Clients.Get(cl.ID)
	if !ok || old.State.Inflight.Len() < 2 {
		return
	}
	msgs := old.State.Inflight.GetAll(false)
	slices.SortStableFunc(msgs, func(a, b packets.Packet) int {
		return cmp.Or(cmp.Compare(a.Created, b.Created), cmp.Compare(a.PacketID, b.PacketID))
	})
	base := msgs[0].Created
	if int(uint16(base))+len(msgs) > math.MaxUint16 {
		base -= int64(uint16(base)) // keep the 16-bit values increasing
	}
	for i, m := range msgs {
		m.Created = base + int64(i)
		old.State.Inflight.Set(m)
	}
}

// OnConnect bounds an MQTT 5 client's keep-alive before mochi sets the
// connection's read deadline from it and sends CONNACK.
func (h *protocolHook) OnConnect(cl *mochi.Client, pk packets.Packet) error {
	h.keepWillProps(cl, pk)
	if cl.Properties.ProtocolVersion >= 5 && (cl.State.Keepalive == 0 || cl.State.Keepalive > h.maxKeepAlive) {
		cl.State.Keepalive = h.maxKeepAlive
		cl.State.ServerKeepalive = true
	}
	return nil
}

// v3 CONNACK return codes (MQTT 3.1.1, 3.2.2.3).
const (
	connack3IdentifierRejected = 0x02
	connack3BadCredentials     = 0x04
	connack3NotAuthorized      = 0x05
)

func (h *protocolHook) OnPacketEncode(cl *mochi.Client, pk packets.Packet) packets.Packet {
	v5 := cl.Properties.ProtocolVersion >= 5
	switch pk.FixedHeader.Type {
	case packets.Connack:
		if pk.ReasonCode == packets.CodeSuccess.Code {
			pk.Properties.MaximumPacketSize = h.maxPacketSize
			break
		}
		refusal, ok := h.refusals.takeConnect(cl)
		switch {
		case v5 && ok:
			pk.ReasonCode, pk.Properties.ReasonString = refusal.Code, refusal.Reason
		case v5:
		case ok && refusal == packets.ErrNotAuthorized:
			pk.ReasonCode = connack3NotAuthorized
		case pk.ReasonCode == connack3NotAuthorized:
			// mochi's only source of 5 is its bad-credentials code.
			pk.ReasonCode = connack3BadCredentials
		case pk.ReasonCode == packets.ErrUnspecifiedError.Code:
			// mochi's only 3.1.1 refusal with 0x80 is an empty client id
			// without clean session [MQTT-3.1.3-8].
			pk.ReasonCode = connack3IdentifierRejected
		}
	case packets.Publish:
		pk = willProperties(pk)
	case packets.Puback:
		if pk.ReasonCode == packets.CodeGrantedQos1.Code {
			pk.ReasonCode = packets.CodeSuccess.Code
		}
		if pk.ReasonCode >= packets.ErrUnspecifiedError.Code && h.refusals.takePubrec(cl, pk.PacketID) {
			pk.FixedHeader.Type = packets.Pubrec
		}
		pk.Properties.User = nil
	case packets.Pubrec, packets.Pubrel, packets.Pubcomp, packets.Suback, packets.Unsuback:
		pk.Properties.User = nil
	case packets.Disconnect:
		if !v5 {
			// An unknown type fails to encode, so nothing is written;
			// mochi closes the connection regardless.
			pk.FixedHeader.Type = packets.Reserved
		}
	}
	return pk
}

// refusals carries the reasons authHook refuses something to protocolHook,
// which writes them into the packet that mochi sends with its own reason.
type refusals struct {
	connects sync.Map // *mochi.Client -> packets.Code
	pubrecs  sync.Map // pubrecKey -> struct{}
}

type pubrecKey struct {
	cl *mochi.Client
	id uint16
}

func (r *refusals) connect(cl *mochi.Client, code packets.Code) { r.connects.Store(cl, code) }

func (r *refusals) takeConnect(cl *mochi.Client) (packets.Code, bool) {
	v, ok := r.connects.LoadAndDelete(cl)
	if !ok {
		return packets.Code{}, false
	}
	return v.(packets.Code), true
}

func (r *refusals) pubrec(cl *mochi.Client, id uint16) {
	r.pubrecs.Store(pubrecKey{cl, id}, struct{}{})
}

func (r *refusals) takePubrec(cl *mochi.Client, id uint16) bool {
	_, ok := r.pubrecs.LoadAndDelete(pubrecKey{cl, id})
	return ok
}
