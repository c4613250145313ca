package mqtt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the engine key-value bucket that holds the broker's durable
// state: persistent sessions, their subscriptions and QoS 1/2 inflight
// messages, retained messages, and MQTT publishes acknowledged but not yet
// put into every subscriber's session.
const Bucket = "herald_mqtt"

// KVFunc opens, creating it if needed, a key-value bucket keeping history
// revisions of each key. (*engine.Engine).KV is one.
type KVFunc func(ctx context.Context, bucket string, history uint8) (jetstream.KeyValue, error)

// StreamFunc looks up a JetStream stream by name, here the stream that holds
// Bucket. (jetstream.JetStream).Stream is one.
type StreamFunc func(ctx context.Context, name string) (jetstream.Stream, error)

// The keys, one prefix per kind. Client ids, filters and topics are key
// tokens (keyToken), so that any of them fits JetStream's key alphabet.
const (
	prefixClient   = "c" // c.<client>: storage.Client of a persistent session
	prefixSub      = "s" // s.<client>.<filter>: storage.Subscription
	prefixInflight = "i" // i.<client>.<packet id>: storage.Message, a PUBLISH (out) or PUBREC (in, QoS 2)
	prefixRetained = "r" // r.<topic>: storage.Message
	prefixPending  = "p" // p.<client>.<packet id>: storage.Message, an MQTT publish acknowledged before it reached the sessions
)

// storeTimeout bounds one bucket operation; hooks have no context of their own.
const storeTimeout = 10 * time.Second

// storeHook keeps the broker's durable state in a JetStream key-value bucket,
// as mochi's storage hooks (bolt, redis, …) keep it in theirs. Every write is
// synchronous: mochi calls the hooks before it acknowledges what they store
// (SUBACK, CONNACK, the gateway's return), except for an MQTT publisher's
// PUBACK/PUBREC, which mochi sends before it routes the message to the
// subscribers; for that, OnPublish writes the message first (a pending key)
// and OnPublished removes it, and Start replays whatever pending keys a crash
// left.
//
// Only sessions that outlive their connection are stored (MQTT 5 session
// expiry > 0, MQTT 3 clean session false): the others end with the
// connection anyway, and storing their inflight messages would cost a write
// per message for nothing.
type storeHook struct {
	mochi.HookBase
	srv *mochi.Server
	// Set by open, before the broker serves.
	kv     jetstream.KeyValue
	bucket bucketReader
	// markerTTL is how long a deleted key's marker stays, when the bucket
	// allows per-key TTLs; 0: it stays (a plain delete).
	markerTTL time.Duration

	// failures counts failed writes; the gateway compares it before and after
	// a publish, so that it never answers 200 for a message it did not store.
	failures atomic.Uint64

	mu       sync.Mutex
	sessions map[string]struct{} // client ids that may have keys in the bucket
	node     string              // on a cluster, the broker's node id (in pending keys)

	pending sync.Map // pendingKey -> failures at OnPublish

	// What open loaded, handed to mochi once by the Stored* methods.
	clients  []storage.Client
	subs     []storage.Subscription
	inflight []storage.Message
	retained []storage.Message
	replay   []storage.Message
}

func newStoreHook() *storeHook {
	return &storeHook{sessions: map[string]struct{}{}}
}

// ID names the hook in mochi's logs.
func (h *storeHook) ID() string { return "herald-store" }

// Provides lists the hook methods mochi should call.
func (h *storeHook) Provides(b byte) bool { return bytes.IndexByte(storeHookEvents, b) >= 0 }

// storeHookEvents are the hook methods the store implements.
var storeHookEvents = []byte{
	mochi.OnSessionEstablish,
	mochi.OnDisconnect,
	mochi.OnSubscribed,
	mochi.OnUnsubscribed,
	mochi.OnRetainMessage,
	mochi.OnRetainedExpired,
	mochi.OnPublish,
	mochi.OnPublished,
	mochi.OnQosPublish,
	mochi.OnQosComplete,
	mochi.OnQosDropped,
	mochi.OnPacketProcessed,
	mochi.OnWillSent,
	mochi.OnClientExpired,
	mochi.StoredClients,
	mochi.StoredSubscriptions,
	mochi.StoredInflightMessages,
	mochi.StoredRetainedMessages,
	mochi.StoredSysInfo,
}

// claimer decides what a broker of a cluster loads when it starts.
type claimer interface {
	// claimStored returns the stored sessions (by client id) the broker
	// loads, given the cluster's keys (o. and n.) in the bucket.
	claimStored(ctx context.Context, keys map[string]bucketEntry, clientIDs []string) map[string]bool
	// replays reports whether the broker replays a pending publish written
	// by the broker node ("" for one written by a broker on its own).
	replays(ctx context.Context, node string) bool
}

// open opens the bucket and reads everything in it, for the Stored* methods
// that mochi calls when it starts serving. With claim (a cluster), only the
// sessions claim gives this broker are loaded.
func (h *storeHook) open(ctx context.Context, kvf KVFunc, stream StreamFunc, claim claimer) error {
	kv, err := kvf(ctx, Bucket, 1)
	if err != nil {
		return fmt.Errorf("mqtt: open store: %w", err)
	}
	if stream == nil {
		return errors.New("mqtt: open store: no stream lookup")
	}
	s, err := stream(ctx, bucketStream)
	if err != nil {
		return fmt.Errorf("mqtt: open store: %w", err)
	}
	b := &streamBucket{s}
	entries, err := b.entries(ctx)
	if err != nil {
		return fmt.Errorf("mqtt: read store: %w", err)
	}
	h.kv, h.bucket = kv, b
	if s.CachedInfo().Config.AllowMsgTTL {
		h.markerTTL = markerTTL
	}
	var sess sessionState
	keys := map[string]bucketEntry{}
	for _, e := range entries {
		if strings.HasPrefix(e.key, prefixOwner+".") || strings.HasPrefix(e.key, prefixCheckpoint+".") {
			keys[e.key] = e
			continue
		}
		if err := sess.add(e.key, e.value); err != nil {
			h.Log.Warn("mqtt store: skipping unreadable key", "key", e.key, "error", err)
		}
	}
	if claim != nil {
		replay := sess.replay
		sess = sess.only(claim.claimStored(ctx, keys, sess.ids()))
		sess.replay = nil
		for _, m := range replay {
			if claim.replays(ctx, pendingNode(m.ID)) {
				sess.replay = append(sess.replay, m)
			}
		}
	}
	h.clients, h.subs, h.inflight, h.retained, h.replay = sess.clients, sess.subs, sess.inflight, sess.retained, sess.replay
	for _, id := range sess.ids() {
		h.sessions[id] = struct{}{}
	}
	return nil
}

// sessionState is what the bucket holds, decoded.
type sessionState struct {
	clients  []storage.Client
	subs     []storage.Subscription
	inflight []storage.Message
	retained []storage.Message
	replay   []storage.Message
}

func (v *sessionState) add(key string, value []byte) error {
	kind, _, _ := strings.Cut(key, ".")
	switch kind {
	case prefixClient:
		var c storage.Client
		if err := c.UnmarshalBinary(value); err != nil {
			return err
		}
		v.clients = append(v.clients, c)
	case prefixSub:
		var s storage.Subscription
		if err := s.UnmarshalBinary(value); err != nil {
			return err
		}
		v.subs = append(v.subs, s)
	case prefixInflight, prefixRetained, prefixPending:
		var m storage.Message
		if err := m.UnmarshalBinary(value); err != nil {
			return err
		}
		switch kind {
		case prefixInflight:
			v.inflight = append(v.inflight, m)
		case prefixRetained:
			v.retained = append(v.retained, m)
		default:
			m.ID = key
			v.replay = append(v.replay, m)
		}
	default:
		return errors.New("unknown kind")
	}
	return nil
}

// ids are the client ids that have session keys.
func (v *sessionState) ids() []string {
	seen := map[string]struct{}{}
	var out []string
	add := func(id string) {
		if _, ok := seen[id]; !ok {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	for _, c := range v.clients {
		add(c.ID)
	}
	for _, s := range v.subs {
		add(s.Client)
	}
	for _, m := range v.inflight {
		add(m.Client)
	}
	return out
}

// only keeps the sessions of the client ids in ok, the retained messages
// and the pending publishes.
func (v *sessionState) only(ok map[string]bool) sessionState {
	out := sessionState{retained: v.retained, replay: v.replay}
	for _, c := range v.clients {
		if ok[c.ID] {
			out.clients = append(out.clients, c)
		}
	}
	for _, s := range v.subs {
		if ok[s.Client] {
			out.subs = append(out.subs, s)
		}
	}
	for _, m := range v.inflight {
		if ok[m.Client] {
			out.inflight = append(out.inflight, m)
		}
	}
	return out
}

// restore puts sessions read from the bucket into a running broker as
// disconnected clients, as mochi does with the Stored* results when it
// starts.
func restore(srv *mochi.Server, v sessionState) {
	for _, c := range v.clients {
		cl := srv.NewClient(nil, c.Listener, c.ID, false)
		cl.Properties.Username = c.Username
		cl.Properties.Clean = c.Clean
		cl.Properties.ProtocolVersion = c.ProtocolVersion
		cl.Properties.Props = packets.Properties{
			SessionExpiryInterval:     c.Properties.SessionExpiryInterval,
			SessionExpiryIntervalFlag: c.Properties.SessionExpiryIntervalFlag,
			AuthenticationMethod:      c.Properties.AuthenticationMethod,
			AuthenticationData:        c.Properties.AuthenticationData,
			RequestProblemInfoFlag:    c.Properties.RequestProblemInfoFlag,
			RequestProblemInfo:        c.Properties.RequestProblemInfo,
			RequestResponseInfo:       c.Properties.RequestResponseInfo,
			ReceiveMaximum:            c.Properties.ReceiveMaximum,
			TopicAliasMaximum:         c.Properties.TopicAliasMaximum,
			User:                      c.Properties.User,
			MaximumPacketSize:         c.Properties.MaximumPacketSize,
		}
		cl.Properties.Will = mochi.Will(c.Will)
		cl.Stop(packets.ErrServerShuttingDown) // disconnected, since now
		srv.Clients.Add(cl)
	}
	for _, s := range v.subs {
		cl, ok := srv.Clients.Get(s.Client)
		if !ok {
			continue
		}
		sub := packets.Subscription{
			Filter:            s.Filter,
			RetainHandling:    s.RetainHandling,
			Qos:               s.Qos,
			RetainAsPublished: s.RetainAsPublished,
			NoLocal:           s.NoLocal,
			Identifier:        s.Identifier,
		}
		if srv.Topics.Subscribe(s.Client, sub) {
			atomic.AddInt64(&srv.Info.Subscriptions, 1)
		}
		cl.State.Subscriptions.Add(s.Filter, sub)
	}
	for _, m := range v.inflight {
		cl, ok := srv.Clients.Get(m.Client)
		if !ok {
			continue
		}
		pk := m.ToPacket()
		withExpiry(&pk)
		if cl.State.Inflight.Set(pk) {
			atomic.AddInt64(&srv.Info.Inflight, 1)
		}
	}
}

// remember marks a client id as one whose session has keys in the bucket.
func (h *storeHook) remember(clientID string) {
	h.mu.Lock()
	h.sessions[clientID] = struct{}{}
	h.mu.Unlock()
}

// forget marks a client id as one whose keys this broker no longer
// touches (another broker holds the session now).
func (h *storeHook) forget(clientID string) {
	h.mu.Lock()
	delete(h.sessions, clientID)
	h.mu.Unlock()
}

// StoredClients returns the persistent sessions. mochi restores them as
// disconnected clients, whose sessions a reconnect with clean start false
// resumes.
func (h *storeHook) StoredClients() ([]storage.Client, error) {
	v := h.clients
	h.clients = nil
	return v, nil
}

// StoredSubscriptions returns the persistent sessions' subscriptions.
func (h *storeHook) StoredSubscriptions() ([]storage.Subscription, error) {
	v := h.subs
	h.subs = nil
	return v, nil
}

// StoredInflightMessages returns the QoS 1/2 messages that persistent
// sessions have not completed.
func (h *storeHook) StoredInflightMessages() ([]storage.Message, error) {
	v := h.inflight
	h.inflight = nil
	return v, nil
}

// StoredRetainedMessages returns the retained messages.
func (h *storeHook) StoredRetainedMessages() ([]storage.Message, error) {
	v := h.retained
	h.retained = nil
	return v, nil
}

// StoredSysInfo stores nothing. mochi calls it after loading everything
// else and before it accepts connections, which makes it the place to finish
// the loading: it returns the gauges that mochi does not update when it loads
// (retained, inflight and subscription counts), counted from what it loaded,
// so that they do not start at zero and go negative; and it gives the loaded
// messages back the expiry that mochi's storage.Message drops.
func (h *storeHook) StoredSysInfo() (storage.SystemInfo, error) {
	var v storage.SystemInfo
	for topic, pk := range h.srv.Topics.Retained.GetAll() {
		if withExpiry(&pk) {
			h.srv.Topics.Retained.Add(topic, pk)
		}
	}
	v.Retained = int64(h.srv.Topics.Retained.Len())
	for _, cl := range h.srv.Clients.GetAll() {
		for _, pk := range cl.State.Inflight.GetAll(false) {
			if withExpiry(&pk) {
				cl.State.Inflight.Set(pk)
			}
		}
		v.Inflight += int64(cl.State.Inflight.Len())
		v.Subscriptions += int64(cl.State.Subscriptions.Len())
	}
	return v, nil
}

// withExpiry sets the expiry time of a loaded message that has a
// MessageExpiryInterval (only MQTT 5 messages do), as mochi does when the
// message is published, and reports whether it did.
func withExpiry(pk *packets.Packet) bool {
	if pk.Properties.MessageExpiryInterval == 0 || pk.Expiry != 0 {
		return false
	}
	pk.Expiry = pk.Created + int64(pk.Properties.MessageExpiryInterval)
	pk.ProtocolVersion = 5
	return true
}

// OnSessionEstablish stores a persistent session before its CONNACK, and
// forgets what a clean start or a session that ends with its connection
// replaces.
func (h *storeHook) OnSessionEstablish(cl *mochi.Client, pk packets.Packet) {
	keep := persistent(cl)
	if pk.Connect.Clean || !keep {
		h.purge(cl.ID)
	}
	if keep {
		h.putClient(cl)
	}
}

// OnDisconnect forgets a session that ends with its connection, and keeps a
// persistent one's record up to date (MQTT 5 DISCONNECT may change its
// expiry).
func (h *storeHook) OnDisconnect(cl *mochi.Client, _ error, expire bool) {
	if cl.Net.Inline || cl.IsTakenOver() || errors.Is(cl.StopCause(), packets.ErrSessionTakenOver) {
		return
	}
	switch {
	case expire:
		h.purge(cl.ID)
	case cl.Net.Conn != nil && persistent(cl): // not a session being loaded
		h.putClient(cl)
	}
}

// OnWillSent stores the session without the will mochi has just sent.
func (h *storeHook) OnWillSent(cl *mochi.Client, _ packets.Packet) {
	if persistent(cl) && h.known(cl.ID) {
		h.putClient(cl)
	}
}

// OnClientExpired forgets an expired session.
func (h *storeHook) OnClientExpired(cl *mochi.Client) { h.purge(cl.ID) }

func (h *storeHook) putClient(cl *mochi.Client) {
	props := cl.Properties.Props.Copy(false)
	c := storage.Client{
		ID:              cl.ID,
		T:               storage.ClientKey,
		Remote:          cl.Net.Remote,
		Listener:        cl.Net.Listener,
		Username:        cl.Properties.Username,
		Clean:           cl.Properties.Clean,
		ProtocolVersion: cl.Properties.ProtocolVersion,
		Properties: storage.ClientProperties{
			SessionExpiryInterval:     props.SessionExpiryInterval,
			SessionExpiryIntervalFlag: props.SessionExpiryIntervalFlag,
			AuthenticationMethod:      props.AuthenticationMethod,
			AuthenticationData:        props.AuthenticationData,
			RequestProblemInfo:        props.RequestProblemInfo,
			RequestProblemInfoFlag:    props.RequestProblemInfoFlag,
			RequestResponseInfo:       props.RequestResponseInfo,
			ReceiveMaximum:            props.ReceiveMaximum,
			TopicAliasMaximum:         props.TopicAliasMaximum,
			User:                      props.User,
			MaximumPacketSize:         props.MaximumPacketSize,
		},
		Will: storage.ClientWill(cl.Properties.Will),
	}
	h.mu.Lock()
	h.sessions[cl.ID] = struct{}{}
	h.mu.Unlock()
	h.put(prefixClient+"."+keyToken(cl.ID), c)
}

// OnSubscribed stores a persistent session's granted subscriptions before
// the SUBACK.
func (h *storeHook) OnSubscribed(cl *mochi.Client, pk packets.Packet, reasonCodes []byte) {
	if !persistent(cl) {
		return
	}
	for i, f := range pk.Filters {
		if i >= len(reasonCodes) || reasonCodes[i] >= packets.ErrUnspecifiedError.Code {
			continue // refused: nothing to restore
		}
		h.put(subKey(cl.ID, f.Filter), storage.Subscription{
			ID:                subKey(cl.ID, f.Filter),
			T:                 storage.SubscriptionKey,
			Client:            cl.ID,
			Filter:            f.Filter,
			Qos:               reasonCodes[i],
			Identifier:        f.Identifier,
			NoLocal:           f.NoLocal,
			RetainHandling:    f.RetainHandling,
			RetainAsPublished: f.RetainAsPublished,
		})
	}
}

// OnUnsubscribed forgets subscriptions.
func (h *storeHook) OnUnsubscribed(cl *mochi.Client, pk packets.Packet) {
	if !h.known(cl.ID) {
		return
	}
	for _, f := range pk.Filters {
		h.del(subKey(cl.ID, f.Filter))
	}
}

// OnRetainMessage stores or clears a topic's retained message before the
// publish is acknowledged.
func (h *storeHook) OnRetainMessage(cl *mochi.Client, pk packets.Packet, r int64) {
	if fromCluster(cl) {
		return // stored by the broker that accepted it
	}
	key := prefixRetained + "." + keyToken(pk.TopicName)
	if len(pk.Payload) == 0 {
		if r == -1 {
			h.del(key)
		}
		return
	}
	m := message(pk)
	m.ID, m.T, m.Client = key, storage.RetainedKey, cl.ID
	h.put(key, m)
}

// OnRetainedExpired forgets an expired retained message.
func (h *storeHook) OnRetainedExpired(topic string) {
	h.del(prefixRetained + "." + keyToken(topic))
}

// OnQosPublish stores a QoS 1/2 message put into a persistent session, or
// the PUBREC of a QoS 2 message the session published, before it is sent.
func (h *storeHook) OnQosPublish(cl *mochi.Client, pk packets.Packet, sent int64, _ int) {
	// A publisher's QoS 1 PUBACK is completed as soon as it is written:
	// storing it would only be undone.
	if pk.FixedHeader.Type == packets.Puback || !persistent(cl) {
		return
	}
	h.putInflight(cl, pk, sent)
}

// OnPacketProcessed stores the PUBREL that replaces a QoS 2 message once the
// subscriber has sent PUBREC, so that a restart releases it instead of
// sending the message again.
func (h *storeHook) OnPacketProcessed(cl *mochi.Client, pk packets.Packet, err error) {
	if err != nil || pk.FixedHeader.Type != packets.Pubrec || !persistent(cl) {
		return
	}
	if rel, ok := cl.State.Inflight.Get(pk.PacketID); ok && rel.FixedHeader.Type == packets.Pubrel {
		h.putInflight(cl, rel, rel.Created)
	}
}

func (h *storeHook) putInflight(cl *mochi.Client, pk packets.Packet, sent int64) {
	key := inflightKey(cl.ID, pk.PacketID)
	m := message(pk)
	m.ID, m.T, m.Client, m.Sent, m.PacketID = key, storage.InflightKey, cl.ID, sent, pk.PacketID
	h.put(key, m)
}

// OnQosComplete forgets a completed QoS 1/2 flow.
func (h *storeHook) OnQosComplete(cl *mochi.Client, pk packets.Packet) {
	if h.known(cl.ID) {
		h.del(inflightKey(cl.ID, pk.PacketID))
	}
}

// OnQosDropped forgets an inflight message mochi dropped.
func (h *storeHook) OnQosDropped(cl *mochi.Client, pk packets.Packet) { h.OnQosComplete(cl, pk) }

type pendingKey struct {
	node   string // on a cluster, the broker's node id
	client string
	id     uint16
}

// OnPublish stores a QoS 1/2 message from an MQTT client before mochi sends
// the PUBACK or PUBREC, which it does before putting the message into the
// subscribers' sessions. Without persistent sessions there is nothing that
// the message could be lost from, so nothing is written. If the write fails
// the publish is refused and not acknowledged.
func (h *storeHook) OnPublish(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline || pk.FixedHeader.Qos == 0 || !h.anySession() {
		return pk, nil
	}
	before := h.failures.Load()
	key := pendingKey{h.node, cl.ID, pk.PacketID}
	m := message(pk)
	m.ID, m.Client = key.String(), cl.ID
	if !h.put(key.String(), m) {
		if cl.Properties.ProtocolVersion == 5 && pk.FixedHeader.Qos == 1 {
			return pk, packets.ErrUnspecifiedError // a PUBACK that says so
		}
		return pk, packets.ErrRejectPacket // no acknowledgement: the client sends it again
	}
	h.pending.Store(key, before)
	return pk, nil
}

// OnPublished forgets the pending copy once the message is in every
// session, unless a write failed meanwhile: then the copy stays for the
// next start to deliver again.
func (h *storeHook) OnPublished(cl *mochi.Client, pk packets.Packet) {
	key := pendingKey{h.node, cl.ID, pk.PacketID}
	before, ok := h.pending.LoadAndDelete(key)
	if ok && before.(uint64) == h.failures.Load() {
		h.del(key.String())
	}
}

// String is the key: p.<client>.<packet id>, or on a cluster
// p.<node>.<client>.<packet id>, so that a broker that starts replays only
// those of brokers that are gone.
func (k pendingKey) String() string {
	node := ""
	if k.node != "" {
		node = k.node + "."
	}
	return prefixPending + "." + node + keyToken(k.client) + "." + strconv.Itoa(int(k.id))
}

// pendingNode returns the node id in a pending key, "" if it has none.
func pendingNode(key string) string {
	parts := strings.Split(key, ".")
	if len(parts) != 4 {
		return ""
	}
	return parts[1]
}

// replayPending publishes again the MQTT publishes that were acknowledged
// but, when the process stopped, perhaps not yet in every subscriber's
// session. Subscribers that had them get them twice (at least once). The
// retained flag is not replayed: the retained message was stored before the
// acknowledgement, and may since have been replaced.
func (h *storeHook) replayPending(b *broker) error {
	msgs := h.replay
	h.replay = nil
	var errs []error
	for _, m := range msgs {
		pk := m.ToPacket()
		pk.FixedHeader.Type, pk.FixedHeader.Retain, pk.FixedHeader.Dup = packets.Publish, false, false
		if pk.PacketID == 0 {
			pk.PacketID = 1
		}
		// On a cluster, the other brokers got it from the stream, if it
		// was acknowledged: only the local sessions get it again.
		listener := "http"
		if b.cluster != nil {
			listener = clusterListener
		}
		if err := b.injectFrom(listener, m.Origin, pk); err != nil {
			errs = append(errs, err)
			continue
		}
		h.del(m.ID)
	}
	if len(msgs) > 0 {
		h.Log.Info("mqtt store: delivered publishes acknowledged before a crash again", "count", len(msgs)-len(errs))
	}
	return errors.Join(errs...)
}

// purge forgets everything stored for a client's session.
func (h *storeHook) purge(clientID string) {
	h.mu.Lock()
	_, ok := h.sessions[clientID]
	delete(h.sessions, clientID)
	h.mu.Unlock()
	if !ok {
		return
	}
	tok := keyToken(clientID)
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := h.bucket.purge(ctx, prefixSub+"."+tok+".>", prefixInflight+"."+tok+".>"); err != nil {
		h.failed("purge", clientID, err)
		return // keep the session record: its keys may still be there
	}
	h.del(prefixClient + "." + tok)
}

func (h *storeHook) known(clientID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.sessions[clientID]
	return ok
}

func (h *storeHook) anySession() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sessions) > 0
}

func (h *storeHook) put(key string, v encoding.BinaryMarshaler) bool {
	b, err := v.MarshalBinary()
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		_, err = h.kv.Put(ctx, key, b)
		cancel()
	}
	if err != nil {
		h.failed("put", key, err)
		return false
	}
	return true
}

func (h *storeHook) del(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	var err error
	if h.markerTTL > 0 {
		// A plain delete would leave a marker per key for ever (one per
		// client and packet id ever used); this one expires.
		err = h.kv.Purge(ctx, key, jetstream.PurgeTTL(h.markerTTL))
	} else {
		err = h.kv.Delete(ctx, key)
	}
	if err != nil {
		h.failed("delete", key, err)
	}
}

// markerTTL is how long a deleted key's marker stays in the bucket.
const markerTTL = 10 * time.Second

func (h *storeHook) failed(op, key string, err error) {
	h.failures.Add(1)
	h.Log.Error("mqtt store: "+op+" failed", "key", key, "error", err)
}

// persistent reports whether cl's session outlives its connection, the
// test mochi applies when the connection ends.
func persistent(cl *mochi.Client) bool {
	if cl.Net.Inline {
		return false
	}
	if cl.Properties.ProtocolVersion == 5 {
		return cl.Properties.Props.SessionExpiryInterval > 0
	}
	return !cl.Properties.Clean
}

func message(pk packets.Packet) storage.Message {
	props := pk.Properties.Copy(false)
	return storage.Message{
		FixedHeader: pk.FixedHeader,
		TopicName:   pk.TopicName,
		Payload:     pk.Payload,
		Origin:      pk.Origin,
		Created:     pk.Created,
		Properties: storage.MessageProperties{
			PayloadFormat:          props.PayloadFormat,
			PayloadFormatFlag:      props.PayloadFormatFlag,
			MessageExpiryInterval:  props.MessageExpiryInterval,
			ContentType:            props.ContentType,
			ResponseTopic:          props.ResponseTopic,
			CorrelationData:        props.CorrelationData,
			SubscriptionIdentifier: props.SubscriptionIdentifier,
			User:                   props.User,
		},
	}
}

func subKey(clientID, filter string) string {
	return prefixSub + "." + keyToken(clientID) + "." + keyToken(filter)
}

func inflightKey(clientID string, id uint16) string {
	return prefixInflight + "." + keyToken(clientID) + "." + strconv.Itoa(int(id))
}

// maxPlainToken is the longest string a key token spells out (in base64url,
// 128 characters); longer ones are hashed, because a key travels in a NATS
// subject, whose protocol line is limited. The values hold the full strings.
const maxPlainToken = 96

// keyToken turns a client id, filter or topic into one key token of
// JetStream's alphabet: unpadded base64url, or "=" and the base64url SHA-256
// of a long string ("=" alone for ""), which base64url never produces.
func keyToken(s string) string {
	if s == "" {
		return "="
	}
	if len(s) > maxPlainToken {
		sum := sha256.Sum256([]byte(s))
		return "=" + base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}
