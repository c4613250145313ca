package mqtt

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/herald-mq/herald/internal/clock"
)

// Cluster is what the brokers of several herald processes on one JetStream
// cluster share to behave as one broker (see WithCluster).
type Cluster struct {
	// Conn is the NATS connection: core subscriptions for shared
	// subscriptions and for session takeover requests.
	Conn *nats.Conn
	// JS is the JetStream API on Conn.
	JS jetstream.JetStream
	// Stream creates or updates a stream, at the engine's replicas.
	// (*engine.Engine).Stream is one.
	Stream func(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error)
}

// WithCluster makes the broker one of several on the engine's cluster:
// every publish it accepts is written to the stream MsgStream before it is
// acknowledged and delivered by every other broker to its subscribers,
// retained messages set or cleared on one are set or cleared on all,
// persistent sessions are owned by one broker at a time (taken over when the
// client connects to another), and a shared subscription's messages go to one
// member cluster-wide. It needs WithStore.
func WithCluster(c Cluster) Option {
	return func(o *options) { o.cluster = &c }
}

// MsgStream is the stream through which brokers pass each other the
// publishes they accept, one subject per MQTT topic (msgSubject).
const MsgStream = "HERALD_MQTT_MSGS"

const (
	msgSubjectPrefix = "herald.mqtt.msg."
	// longSubjectPrefix holds the messages of topics whose subject would be
	// longer than maxSubject, under a hash.
	longSubjectPrefix = "herald.mqtt.long."
	maxSubject        = 1024
	// nodeSubjectPrefix + node id: a broker's takeover requests.
	nodeSubjectPrefix = "herald.mqtt.node."
	// headerNode names the broker a message was accepted by.
	headerNode = "Herald-Node"
	// msgMaxAge is how long MsgStream keeps a message: a broker that falls
	// further behind than that misses it.
	msgMaxAge = 10 * time.Minute
	// prefixOwner + "." + keyToken(client): the node id of the broker that
	// holds the client's session (and connection).
	prefixOwner = "o"
	// clusterListener is the listener name of the inline clients that publish
	// what other brokers accepted: hooks do not forward or store it again.
	clusterListener = "cluster"
	// shareMarker starts the client id of an inline client that delivers a
	// message to one shared subscription only (the rest is the share filter).
	shareMarker = "\x00share\x00"
	// requestTimeout bounds a takeover request to another broker.
	requestTimeout = 5 * time.Second
)

// clusterHook joins the broker to the others on the cluster.
//
// Each publish accepted here (MQTT, gateway) is written to MsgStream, with
// this broker's node id, in OnPublish: before mochi acknowledges it (QoS 1/2
// wait for the stream's acknowledgement; QoS 0 is sent without waiting) and
// before it reaches local subscribers. Every broker reads the stream with an
// ordered consumer from the moment it starts, skips its own messages, and
// publishes the others' through an inline client of clusterListener, which
// the hooks recognize: it is not forwarded again (no loops) and the store does
// not write its retained message a second time (the origin did).
//
// Shared subscriptions are not served by mochi's selection, which only sees
// local members: each broker with members of $share/G/F holds a core NATS
// queue subscription (queue named after the share filter) on the subjects F
// matches, so that one broker cluster-wide receives each message, and it
// publishes it to one of its members only.
//
// Sessions: the key o.<client> names the broker that holds a client id. A
// CONNECT claims it (CAS on its revision), after asking the previous holder,
// if it is alive, to disconnect its connection (session taken over) and drop
// the session from its memory; the session is then read from the bucket and
// caught up from the stream (catchUp) after what the holder had delivered,
// which it answers, or, if it is gone, after its checkpoint.
type clusterHook struct {
	mochi.HookBase
	c     Cluster
	node  string
	srv   *mochi.Server
	b     *broker
	store *storeHook

	clk     clock.Clock
	kv      jetstream.KeyValue
	bucket  *streamBucket
	consume jetstream.ConsumeContext
	nodeSub *nats.Subscription
	applied atomic.Uint64 // the last MsgStream sequence read
	stop    chan struct{} // closed by close: the checkpoints stop
	done    chan struct{} // closed when they have

	// Set while the broker starts: the bucket's o. and n. keys, and the
	// sessions claimed from brokers that are gone (client id -> node id),
	// to catch up once it serves.
	keys    map[string]bucketEntry
	adopted map[string]string

	mu     sync.Mutex
	closed bool                   // no more queue subscriptions
	shares map[string]*shareGroup // by share filter ($share/G/F)
	owned  map[string]uint64      // client id -> revision of its owner key
	alive  map[string]bool        // node id -> answered (open only)
}

// shareGroup is a shared subscription with local members.
type shareGroup struct {
	members map[string]struct{} // client ids
	subs    []*nats.Subscription
}

func newClusterHook(c Cluster, b *broker, clk clock.Clock) *clusterHook {
	var id [8]byte
	_, _ = rand.Read(id[:])
	return &clusterHook{
		c:       c,
		clk:     clk,
		adopted: map[string]string{},
		node:    hex.EncodeToString(id[:]),
		srv:     b.srv,
		b:       b,
		store:   b.store,
		shares:  map[string]*shareGroup{},
		owned:   map[string]uint64{},
		alive:   map[string]bool{},
	}
}

// ID names the hook in mochi's logs.
func (h *clusterHook) ID() string { return "herald-cluster" }

// Provides lists the hook methods mochi should call.
func (h *clusterHook) Provides(b byte) bool { return bytes.IndexByte(clusterHookEvents, b) >= 0 }

var clusterHookEvents = []byte{
	mochi.OnSessionEstablish,
	mochi.OnDisconnect,
	mochi.OnClientExpired,
	mochi.OnPublish,
	mochi.OnSelectSubscribers,
	mochi.OnSubscribed,
	mochi.OnUnsubscribed,
	mochi.OnWillSent,
}

// open creates the stream and answers takeover requests; it runs before the
// store loads, so that sessions it claims are not released meanwhile.
func (h *clusterHook) open(ctx context.Context, kv jetstream.KeyValue) error {
	if h.c.Conn == nil || h.c.JS == nil || h.c.Stream == nil {
		return errors.New("mqtt: cluster: needs a connection, JetStream and a stream creator")
	}
	h.kv = kv
	if _, err := h.c.Stream(ctx, jetstream.StreamConfig{
		Name:        MsgStream,
		Description: "herald MQTT: publishes accepted by one broker, for the others",
		Subjects:    []string{msgSubjectPrefix + ">", longSubjectPrefix + ">"},
		MaxAge:      msgMaxAge,
		Discard:     jetstream.DiscardOld,
	}); err != nil {
		return fmt.Errorf("mqtt: cluster: %w", err)
	}
	sub, err := h.c.Conn.Subscribe(nodeSubjectPrefix+h.node, h.onTakeover)
	if err != nil {
		return fmt.Errorf("mqtt: cluster: %w", err)
	}
	h.nodeSub = sub
	return nil
}

// follow starts reading the others' publishes, once the broker serves.
func (h *clusterHook) follow(ctx context.Context) error {
	// From the stream's next message: DeliverNewPolicy would start from
	// whenever the consumer is created on the server, which Consume does
	// not wait for.
	st, err := h.c.JS.Stream(ctx, MsgStream)
	if err != nil {
		return fmt.Errorf("mqtt: cluster: follow %s: %w", MsgStream, err)
	}
	start := st.CachedInfo().State.LastSeq
	// The first checkpoint, before anything is read: a broker that dies
	// at any time has one.
	if _, err := h.kv.Put(ctx, checkpointKey(h.node), []byte(strconv.FormatUint(start, 10))); err != nil {
		return fmt.Errorf("mqtt: cluster: checkpoint: %w", err)
	}
	h.applied.Store(start)
	cons, err := h.c.JS.OrderedConsumer(ctx, MsgStream, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   start + 1,
	})
	if err != nil {
		return fmt.Errorf("mqtt: cluster: follow %s: %w", MsgStream, err)
	}
	cc, err := cons.Consume(h.onMessage)
	if err != nil {
		return fmt.Errorf("mqtt: cluster: follow %s: %w", MsgStream, err)
	}
	h.consume = cc
	h.stop, h.done = make(chan struct{}), make(chan struct{})
	go h.checkpoints(start)
	// Shared subscriptions of the sessions loaded at start.
	for id, cl := range h.srv.Clients.GetAll() {
		for f := range cl.State.Subscriptions.GetAll() {
			h.addShare(f, id)
		}
	}
	for id, node := range h.adopted {
		from, err := h.checkpointOf(ctx, node)
		if err == nil && from > 0 {
			err = h.catchUp(ctx, id, from)
		}
		if err != nil {
			h.store.Log.Error("mqtt cluster: catching a session up failed", "client", id, "error", err)
		}
	}
	h.adopted = nil
	h.sweep(ctx)
	return nil
}

// close stops following and answering; the shared subscriptions go.
func (h *clusterHook) close() {
	if h.consume != nil {
		h.consume.Stop()
	}
	if h.stop != nil {
		close(h.stop)
		<-h.done
		h.stop = nil
	}
	if h.nodeSub != nil {
		_ = h.nodeSub.Unsubscribe()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for f, g := range h.shares {
		for _, s := range g.subs {
			_ = s.Unsubscribe()
		}
		delete(h.shares, f)
	}
}

// fromCluster reports whether cl publishes what another broker accepted.
func fromCluster(cl *mochi.Client) bool {
	return cl.Net.Inline && cl.Net.Listener == clusterListener
}

// OnPublish writes a publish accepted here to MsgStream, before mochi
// acknowledges it and delivers it; a QoS 1/2 publish that cannot be written
// is refused like one the store cannot write.
func (h *clusterHook) OnPublish(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	if fromCluster(cl) {
		return pk, nil
	}
	if err := h.forward(cl, pk); err != nil {
		if pk.FixedHeader.Qos == 0 {
			return pk, nil // at most once: local subscribers still get it
		}
		if !cl.Net.Inline && cl.Properties.ProtocolVersion == 5 && pk.FixedHeader.Qos == 1 {
			return pk, packets.ErrUnspecifiedError
		}
		return pk, packets.ErrRejectPacket
	}
	return pk, nil
}

// OnWillSent forwards a will, which mochi publishes to the local
// subscribers without OnPublish.
func (h *clusterHook) OnWillSent(cl *mochi.Client, pk packets.Packet) {
	if !cl.Net.Inline {
		_ = h.forward(cl, pk)
	}
}

// forward writes a message accepted here to MsgStream: QoS 0 without
// waiting for the stream.
func (h *clusterHook) forward(cl *mochi.Client, pk packets.Packet) error {
	m := message(pk)
	m.Origin = cl.ID
	data, err := m.MarshalBinary()
	if err == nil {
		msg := &nats.Msg{Subject: msgSubject(pk.TopicName), Header: nats.Header{headerNode: []string{h.node}}, Data: data}
		if pk.FixedHeader.Qos == 0 {
			err = h.c.Conn.PublishMsg(msg)
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
			_, err = h.c.JS.PublishMsg(ctx, msg)
			cancel()
		}
	}
	if err != nil {
		h.store.failed("forward", pk.TopicName, err)
	}
	return err
}

// onMessage publishes another broker's message to the local subscribers.
func (h *clusterHook) onMessage(msg jetstream.Msg) {
	if meta, err := msg.Metadata(); err == nil {
		defer h.applied.Store(meta.Sequence.Stream)
	}
	if msg.Headers().Get(headerNode) == h.node {
		return
	}
	pk, origin, err := decodeForward(msg.Data())
	if err != nil {
		h.store.Log.Warn("mqtt cluster: skipping unreadable message", "subject", msg.Subject(), "error", err)
		return
	}
	if err := h.b.injectFrom(clusterListener, origin, pk); err != nil && !errors.Is(err, ErrStopped) {
		h.store.Log.Error("mqtt cluster: publishing another broker's message failed", "topic", pk.TopicName, "error", err)
	}
}

func decodeForward(data []byte) (packets.Packet, string, error) {
	var m storage.Message
	if err := m.UnmarshalBinary(data); err != nil {
		return packets.Packet{}, "", err
	}
	pk := m.ToPacket()
	pk.FixedHeader.Type, pk.FixedHeader.Dup = packets.Publish, false
	pk.Expiry = 0 // set again from the MessageExpiryInterval
	if pk.FixedHeader.Qos > 0 && pk.PacketID == 0 {
		pk.PacketID = 1 // mochi refuses a QoS 1/2 publish without one
	}
	return pk, m.Origin, nil
}

// OnSelectSubscribers leaves shared subscriptions to the queue
// subscriptions, except for a message one of them received, which goes to
// its shared subscription only.
func (h *clusterHook) OnSelectSubscribers(subs *mochi.Subscribers, pk packets.Packet) *mochi.Subscribers {
	sf, ok := strings.CutPrefix(pk.Origin, shareMarker)
	if !ok {
		subs.Shared = map[string]map[string]packets.Subscription{}
		return subs
	}
	only := map[string]map[string]packets.Subscription{}
	if members, ok := subs.Shared[sf]; ok {
		only[sf] = members
	}
	subs.Shared = only
	subs.Subscriptions = map[string]packets.Subscription{}
	subs.InlineSubscriptions = map[int]mochi.InlineSubscription{}
	return subs
}

// OnSubscribed joins the queue of each shared subscription granted.
func (h *clusterHook) OnSubscribed(cl *mochi.Client, pk packets.Packet, reasonCodes []byte) {
	for i, f := range pk.Filters {
		if i < len(reasonCodes) && reasonCodes[i] < packets.ErrUnspecifiedError.Code {
			h.addShare(f.Filter, cl.ID)
		}
	}
}

// OnUnsubscribed leaves the queues of shared subscriptions without members.
func (h *clusterHook) OnUnsubscribed(cl *mochi.Client, pk packets.Packet) {
	for _, f := range pk.Filters {
		h.removeShare(f.Filter, cl.ID)
	}
}

func (h *clusterHook) addShare(filter, clientID string) {
	topicFilter, ok := shareFilter(filter)
	if !ok {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	g, ok := h.shares[filter]
	if !ok {
		g = &shareGroup{members: map[string]struct{}{}}
		queue := "q" + hashToken(filter)
		for _, subject := range filterSubjects(topicFilter) {
			s, err := h.c.Conn.QueueSubscribe(subject, queue, func(m *nats.Msg) { h.onShared(filter, m) })
			if err != nil {
				h.store.Log.Error("mqtt cluster: joining a shared subscription failed", "filter", filter, "error", err)
				continue
			}
			g.subs = append(g.subs, s)
		}
		// The queue is joined on the server before the SUBACK.
		if err := h.c.Conn.FlushTimeout(requestTimeout); err != nil {
			h.store.Log.Warn("mqtt cluster: joining a shared subscription not confirmed", "filter", filter, "error", err)
		}
		h.shares[filter] = g
	}
	g.members[clientID] = struct{}{}
}

func (h *clusterHook) removeShare(filter, clientID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	g, ok := h.shares[filter]
	if !ok {
		return
	}
	delete(g.members, clientID)
	if len(g.members) > 0 {
		return
	}
	for _, s := range g.subs {
		_ = s.Unsubscribe()
	}
	delete(h.shares, filter)
}

// removeClient takes a client out of every shared subscription.
func (h *clusterHook) removeClient(clientID string) {
	h.mu.Lock()
	var filters []string
	for f, g := range h.shares {
		if _, ok := g.members[clientID]; ok {
			filters = append(filters, f)
		}
	}
	h.mu.Unlock()
	for _, f := range filters {
		h.removeShare(f, clientID)
	}
}

// onShared publishes a message that the queue of shared subscription
// filter gave this broker to one of its local members.
func (h *clusterHook) onShared(filter string, m *nats.Msg) {
	pk, _, err := decodeForward(m.Data)
	if err != nil {
		return
	}
	pk.FixedHeader.Retain = false // the retained message was set by the ordinary path
	if err := h.b.injectFrom(clusterListener, shareMarker+filter, pk); err != nil && !errors.Is(err, ErrStopped) {
		h.store.Log.Error("mqtt cluster: delivering a shared subscription's message failed", "filter", filter, "error", err)
	}
}

// OnSessionEstablish makes this broker the holder of the client id, after
// the client has authenticated and before mochi looks for its session: the
// previous holder, if another broker, drops the connection and the session,
// which is then read from the bucket.
func (h *clusterHook) OnSessionEstablish(cl *mochi.Client, _ packets.Packet) {
	if cl.Net.Inline {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	moved, from, err := h.acquire(ctx, cl.ID)
	if err != nil {
		h.store.Log.Error("mqtt cluster: taking the session over failed", "client", cl.ID, "error", err)
		return
	}
	if !moved {
		return
	}
	if err := h.loadSession(ctx, cl.ID); err != nil {
		h.store.Log.Error("mqtt cluster: reading the session failed", "client", cl.ID, "error", err)
		return
	}
	if from > 0 {
		if err := h.catchUp(ctx, cl.ID, from); err != nil {
			h.store.Log.Error("mqtt cluster: catching the session up failed", "client", cl.ID, "error", err)
		}
	}
}

// acquire claims the client id's owner key and reports whether another
// broker held it (so the session must be read from the bucket) and, if so,
// the MsgStream sequence from which the session must be caught up (0:
// none): after what the holder had delivered when it let the session go,
// or after the checkpoint of a holder that is gone.
func (h *clusterHook) acquire(ctx context.Context, clientID string) (moved bool, from uint64, err error) {
	key := prefixOwner + "." + keyToken(clientID)
	for range 5 {
		var rev uint64
		e, err := h.kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return false, 0, err
		default:
			rev = e.Revision()
			owner := string(e.Value())
			switch {
			case owner != h.node:
				if from, err = h.takeover(ctx, owner, clientID); err != nil {
					return false, 0, err
				}
				moved = true
			case h.holds(clientID):
				h.setOwned(clientID, rev)
				return moved, from, nil
			default:
				// Let go to a broker that has not yet claimed it: claim it
				// back (that broker's claim will fail and ask again), with
				// the session from the bucket.
				moved = true
			}
		}
		if rev == 0 {
			rev, err = h.kv.Create(ctx, key, []byte(h.node))
		} else {
			rev, err = h.kv.Update(ctx, key, []byte(h.node), rev)
		}
		if err == nil {
			h.setOwned(clientID, rev)
			return moved, from, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !isWrongSequence(err) {
			return false, 0, err
		}
	}
	return false, 0, errors.New("the owner key keeps changing")
}

func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

func (h *clusterHook) holds(clientID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.owned[clientID]
	return ok
}

func (h *clusterHook) setOwned(clientID string, rev uint64) {
	h.mu.Lock()
	h.owned[clientID] = rev
	h.mu.Unlock()
}

// takeover asks node to give the client id up and returns the sequence
// the session must be caught up from (0: none): the one after what the
// node answers it has read, or, when it is gone (no one answers its
// subject), after its checkpoint.
func (h *clusterHook) takeover(ctx context.Context, node, clientID string) (uint64, error) {
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	reply, err := h.c.Conn.RequestWithContext(rctx, nodeSubjectPrefix+node, []byte(clientID))
	if errors.Is(err, nats.ErrNoResponders) {
		return h.checkpointOf(ctx, node)
	}
	if err != nil {
		return 0, fmt.Errorf("ask %s to give up the session: %w", node, err)
	}
	seq, err := strconv.ParseUint(string(reply.Data), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("answer of %s: %w", node, err)
	}
	return seq + 1, nil
}

// checkpointOf returns the sequence after a node's checkpoint; 0 if it has
// none.
func (h *clusterHook) checkpointOf(ctx context.Context, node string) (uint64, error) {
	e, err := h.kv.Get(ctx, checkpointKey(node))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, nil // it never followed the stream: it held nothing
	}
	if err != nil {
		return 0, err
	}
	seq, err := strconv.ParseUint(string(e.Value()), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("checkpoint of %s: %w", node, err)
	}
	return seq + 1, nil
}

// onTakeover gives up a client id another broker claims: its connection is
// closed (MQTT 5: DISCONNECT 0x8E session taken over) and its session
// leaves memory, without touching the bucket, from which the claimer reads
// it. The answer is the last sequence read from MsgStream once the session
// is gone from the broker: what came after it, the claimer delivers. An
// empty request only asks whether this node is alive.
func (h *clusterHook) onTakeover(m *nats.Msg) {
	if id := string(m.Data); id != "" {
		h.release(id)
	}
	_ = m.Respond([]byte(strconv.FormatUint(h.applied.Load(), 10)))
}

func (h *clusterHook) release(clientID string) {
	h.mu.Lock()
	delete(h.owned, clientID)
	h.mu.Unlock()
	cl, ok := h.srv.Clients.Get(clientID)
	if !ok {
		return
	}
	// The store first, so that nothing below deletes the session's keys.
	h.store.forget(clientID)
	if !cl.Closed() {
		_ = h.srv.DisconnectClient(cl, packets.ErrSessionTakenOver)
	}
	h.srv.UnsubscribeClient(cl)
	cl.ClearInflights()
	h.srv.Clients.Delete(clientID)
	h.removeClient(clientID)
}

// loadSession reads a persistent session that another broker held into
// mochi, as a disconnected client that the connecting one takes over.
func (h *clusterHook) loadSession(ctx context.Context, clientID string) error {
	if _, ok := h.srv.Clients.Get(clientID); ok {
		return nil
	}
	tok := keyToken(clientID)
	entries, err := h.bucket.entriesFor(ctx, prefixClient+"."+tok, prefixSub+"."+tok+".>", prefixInflight+"."+tok+".>")
	if err != nil {
		return err
	}
	var sess sessionState
	for _, e := range entries {
		if err := sess.add(e.key, e.value); err != nil {
			h.store.Log.Warn("mqtt store: skipping unreadable key", "key", e.key, "error", err)
		}
	}
	if len(sess.clients) == 0 || sess.clients[0].ID != clientID {
		return nil
	}
	h.store.remember(clientID)
	restore(h.srv, sess)
	for _, s := range sess.subs {
		h.addShare(s.Filter, clientID)
	}
	return nil
}

// OnDisconnect gives up the owner key of a session that ends with its
// connection.
func (h *clusterHook) OnDisconnect(cl *mochi.Client, _ error, expire bool) {
	if cl.Net.Inline || cl.IsTakenOver() || errors.Is(cl.StopCause(), packets.ErrSessionTakenOver) {
		return
	}
	if expire {
		h.disown(cl.ID)
	}
}

// OnClientExpired gives up an expired session's owner key.
func (h *clusterHook) OnClientExpired(cl *mochi.Client) { h.disown(cl.ID) }

func (h *clusterHook) disown(clientID string) {
	h.removeClient(clientID)
	h.mu.Lock()
	rev, ok := h.owned[clientID]
	delete(h.owned, clientID)
	h.mu.Unlock()
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	// Only if no other broker has claimed it since.
	_ = h.kv.Delete(ctx, prefixOwner+"."+keyToken(clientID), jetstream.LastRevision(rev))
}

// claimStored decides, when the broker starts, which stored sessions it
// loads: those no one holds, or whose holder no longer answers, claiming
// each. keys are the bucket's o. and n. keys.
func (h *clusterHook) claimStored(ctx context.Context, keys map[string]bucketEntry, clientIDs []string) map[string]bool {
	h.keys = keys
	out := make(map[string]bool, len(clientIDs))
	for _, id := range clientIDs {
		key := prefixOwner + "." + keyToken(id)
		e, held := keys[key]
		var rev uint64
		var err error
		if held {
			if h.nodeAlive(ctx, string(e.value)) {
				continue
			}
			rev, err = h.kv.Update(ctx, key, []byte(h.node), e.seq)
			if err == nil {
				h.adopted[id] = string(e.value)
			}
		} else {
			rev, err = h.kv.Create(ctx, key, []byte(h.node))
		}
		if err == nil {
			h.setOwned(id, rev)
			out[id] = true
		}
	}
	return out
}

// replays reports whether a starting broker replays a pending publish of
// node: one of a broker that is gone (whose local sessions the broker that
// claims them also catches up), or written without a cluster.
func (h *clusterHook) replays(ctx context.Context, node string) bool {
	return node == "" || !h.nodeAlive(ctx, node)
}

// sweep removes the checkpoints of brokers that are gone and hold no
// session (by the keys read at start).
func (h *clusterHook) sweep(ctx context.Context) {
	holders := map[string]bool{}
	for k, e := range h.keys {
		if strings.HasPrefix(k, prefixOwner+".") {
			holders[string(e.value)] = true
		}
	}
	for k, e := range h.keys {
		node, ok := strings.CutPrefix(k, prefixCheckpoint+".")
		if !ok || holders[node] || h.nodeAlive(ctx, node) {
			continue
		}
		_ = h.kv.Delete(ctx, k, jetstream.LastRevision(e.seq))
	}
	h.keys = nil
}

// nodeAlive asks a node whether it runs; one that cannot be asked counts
// as alive (its sessions are not taken from it).
func (h *clusterHook) nodeAlive(ctx context.Context, node string) bool {
	if node == h.node {
		return true
	}
	h.mu.Lock()
	v, ok := h.alive[node]
	h.mu.Unlock()
	if ok {
		return v
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	_, err := h.c.Conn.RequestWithContext(ctx, nodeSubjectPrefix+node, nil)
	alive := !errors.Is(err, nats.ErrNoResponders)
	h.mu.Lock()
	h.alive[node] = alive
	h.mu.Unlock()
	return alive
}

// msgSubject is the MsgStream subject of an MQTT topic: each level a token
// of unpadded base64url ("=" for an empty level), so that any topic fits
// NATS's subject alphabet and topic filters map to subject filters; a topic
// whose subject would be too long goes under longSubjectPrefix, hashed.
func msgSubject(topic string) string {
	var b strings.Builder
	b.WriteString(msgSubjectPrefix)
	for i, level := range strings.Split(topic, "/") {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(levelToken(level))
		if b.Len() > maxSubject {
			return longSubjectPrefix + hashToken(topic)
		}
	}
	return b.String()
}

func levelToken(level string) string {
	if level == "" {
		return "="
	}
	return base64.RawURLEncoding.EncodeToString([]byte(level))
}

func hashToken(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// filterSubjects are the subjects whose messages an MQTT topic filter can
// match: "+" is "*", "#" is ">" and also its parent level ("a/#" matches
// "a"), and long topics, whose subjects say nothing (the broker matches what
// it receives against the filter again).
func filterSubjects(filter string) []string {
	levels := strings.Split(filter, "/")
	toks := make([]string, 0, len(levels))
	var out []string
	for i, level := range levels {
		switch level {
		case "+":
			toks = append(toks, "*")
		case "#":
			if i > 0 {
				out = append(out, msgSubjectPrefix+strings.Join(toks, "."))
			}
			toks = append(toks, ">")
		default:
			toks = append(toks, levelToken(level))
		}
	}
	out = append(out, msgSubjectPrefix+strings.Join(toks, "."), longSubjectPrefix+">")
	return out
}

// shareFilter returns the topic filter of a shared subscription filter
// ($share/G/F → F).
func shareFilter(filter string) (string, bool) {
	prefix, rest, ok := strings.Cut(filter, "/")
	if !ok || !strings.EqualFold(prefix, mochi.SharePrefix) {
		return "", false
	}
	_, f, ok := strings.Cut(rest, "/")
	return f, ok && f != ""
}

// A broker records, under n.<node id>, the last MsgStream sequence it has
// put into its sessions (a checkpoint, written every checkpointInterval,
// one interval late so that what a publish accepted here still had to do
// locally is done). A broker that takes over the sessions of one that is
// gone delivers to each of them, from the stream, what came after that
// broker's checkpoint: what it had not yet delivered when it died, and what
// was published while no broker held them (within msgMaxAge).
const (
	prefixCheckpoint   = "n"
	checkpointInterval = time.Second
)

func checkpointKey(node string) string { return prefixCheckpoint + "." + node }

// checkpoints writes the checkpoint until stop is closed.
func (h *clusterHook) checkpoints(written uint64) {
	defer close(h.done)
	pending := written
	for {
		t := h.clk.NewTimer(checkpointInterval)
		select {
		case <-h.stop:
			t.Stop()
			return
		case <-t.C():
		}
		if pending > written {
			ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
			_, err := h.kv.Put(ctx, checkpointKey(h.node), []byte(strconv.FormatUint(pending, 10)))
			cancel()
			if err == nil {
				written = pending
			}
		}
		pending = h.applied.Load()
	}
}

// lastCheckpoint writes the checkpoint once the broker has closed: every
// message read has been delivered.
func (h *clusterHook) lastCheckpoint() {
	seq := h.applied.Load()
	if seq == 0 {
		return // nothing read (or it never followed): the first checkpoint stands
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if _, err := h.kv.Put(ctx, checkpointKey(h.node), []byte(strconv.FormatUint(seq, 10))); err != nil {
		h.store.Log.Warn("mqtt cluster: writing the last checkpoint failed", "error", err)
	}
}

// catchUp delivers to the session of clientID, just read from the bucket,
// the messages from sequence from on that its subscriptions match, which
// its previous holder had not delivered to it: at least once (some may
// have been).
func (h *clusterHook) catchUp(ctx context.Context, clientID string, from uint64) error {
	cl, ok := h.srv.Clients.Get(clientID)
	if !ok {
		return nil
	}
	idx := mochi.NewTopicsIndex()
	var subjects []string
	seen := map[string]bool{}
	for f, sub := range cl.State.Subscriptions.GetAll() {
		if _, shared := shareFilter(f); shared {
			continue // one member of the group got them
		}
		idx.Subscribe(clientID, sub)
		for _, s := range filterSubjects(f) {
			if !seen[s] {
				seen[s] = true
				subjects = append(subjects, s)
			}
		}
	}
	if len(subjects) == 0 {
		return nil
	}
	st, err := h.c.JS.Stream(ctx, MsgStream)
	if err != nil {
		return err
	}
	state := st.CachedInfo().State
	last := state.LastSeq // later ones reach the session through follow
	if from > last {
		return nil
	}
	if from < state.FirstSeq {
		h.store.Log.Warn("mqtt cluster: messages for a taken-over session have expired from the stream", "client", clientID, "from", from, "first", state.FirstSeq)
	}
	cons, err := st.CreateConsumer(ctx, jetstream.ConsumerConfig{
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       from,
		FilterSubjects:    subjects,
		AckPolicy:         jetstream.AckNonePolicy,
		MemoryStorage:     true,
		InactiveThreshold: time.Minute, // if the delete below fails
	})
	if err != nil {
		return err
	}
	defer func() { _ = st.DeleteConsumer(context.WithoutCancel(ctx), cons.CachedInfo().Name) }()
	left := cons.CachedInfo().NumPending
	for left > 0 {
		batch, err := cons.Fetch(int(min(left, scanBatch)), jetstream.FetchMaxWait(requestTimeout))
		if err != nil {
			return err
		}
		n := 0
		for m := range batch.Messages() {
			n++
			meta, err := m.Metadata()
			if err != nil || meta.Sequence.Stream > last {
				continue
			}
			pk, origin, err := decodeForward(m.Data())
			if err != nil {
				continue
			}
			pk.Origin = origin
			if sub, ok := idx.Subscribers(pk.TopicName).Subscriptions[clientID]; ok {
				h.queue(cl, sub, pk)
			}
		}
		if err := batch.Error(); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		left -= uint64(n)
	}
	return nil
}

// queue puts a QoS 1/2 message into an offline session's inflight store, as
// mochi does when it publishes to a disconnected client; QoS 0 messages are
// not kept for offline clients.
func (h *clusterHook) queue(cl *mochi.Client, sub packets.Subscription, pk packets.Packet) {
	if sub.NoLocal && pk.Origin == cl.ID {
		return
	}
	out := pk.Copy(false)
	if !sub.FwdRetainedFlag && (cl.Properties.ProtocolVersion < 5 || !sub.RetainAsPublished) {
		out.FixedHeader.Retain = false
	}
	if len(sub.Identifiers) > 0 {
		out.Properties.SubscriptionIdentifier = slices.Sorted(maps.Values(sub.Identifiers))
	}
	out.FixedHeader.Qos = min(out.FixedHeader.Qos, sub.Qos)
	if out.FixedHeader.Qos == 0 || cl.State.Inflight.Len() >= int(h.srv.Options.Capabilities.MaximumInflight) {
		return
	}
	id, err := cl.NextPacketID()
	if err != nil {
		return
	}
	out.PacketID = uint16(id)
	if cl.State.Inflight.Set(out) {
		atomic.AddInt64(&h.srv.Info.Inflight, 1)
		h.store.OnQosPublish(cl, out, out.Created, 0)
	}
}
