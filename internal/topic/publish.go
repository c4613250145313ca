package topic

import (
	"cmp"
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/herald-mq/herald/internal/engine/stream"
)

// Stream and subjects of topic messages.
const (
	// MessageStream holds every published message for one day.
	MessageStream = "HERALD_MESSAGES"
	// SubjectPrefix starts a message's subject: herald.msg.<appid>.<topic>.
	SubjectPrefix = "herald.msg."
	// Retention is how long a topic message lives (CMQ: one day).
	Retention = 24 * time.Hour
)

// Headers of a stored message.
const (
	// HeaderMsgID is the message id. It is not JetStream's Nats-Msg-Id:
	// herald makes a new id for every publish, so the engine's duplicate
	// check would cost on every message and catch nothing.
	HeaderMsgID = "Herald-Msg-Id"
	HeaderTags  = "Herald-Tags"
	// HeaderIndexRev is "<topic bucket revision>.<subscription bucket
	// revision>" of the publishing process's index: the fan-out waits for its
	// own index to be as recent before deciding who gets the message.
	HeaderIndexRev   = "Herald-Index-Rev"
	HeaderRoutingKey = "Herald-Routing-Key"
)

// Message is one message to publish.
type Message struct {
	Body       []byte
	Tags       []string
	RoutingKey string
}

// StreamConfig is the message stream's configuration.
func StreamConfig() stream.Config {
	return stream.Config{
		Name:        MessageStream,
		Description: "herald topic messages",
		Subjects:    []string{SubjectPrefix + ">"},
		MaxAge:      Retention,
		// Existing streams are updated in place to allow it.
		AllowAtomic: true,
	}
}

// Subject is the subject a topic's messages are stored under.
func Subject(appID int64, topicName string) string {
	return SubjectPrefix + strconv.FormatInt(appID, 10) + "." + topicName
}

// ParseSubject splits a message subject into APPID and topic name.
func ParseSubject(subject string) (int64, string, bool) {
	rest, ok := strings.CutPrefix(subject, SubjectPrefix)
	if !ok {
		return 0, "", false
	}
	app, name, ok := strings.Cut(rest, ".")
	if !ok {
		return 0, "", false
	}
	id, err := strconv.ParseInt(app, 10, 64)
	return id, name, err == nil
}

// AtomicMode says when a publish of several messages is one JetStream atomic
// batch: all of them stored, or none.
type AtomicMode int

const (
	// AtomicReplicated uses atomic batches when the message stream is
	// replicated (an external cluster), where JetStream stages a batch in
	// memory and commits it as one proposal, which is cheaper than a proposal
	// per message. A single-replica file stream stages each batch in a file
	// store of its own (directories, files, an fsync), which made publishing
	// 30 to 60 times slower in herald's measurements, so there each message
	// is published and acknowledged on its own.
	AtomicReplicated AtomicMode = iota
	// AtomicAlways uses atomic batches whatever the stream's replicas.
	AtomicAlways
	// AtomicNever publishes each message on its own.
	AtomicNever
)

// PublisherConfig tunes the publisher.
type PublisherConfig struct {
	// Atomic says when batches are atomic. Defaults to AtomicReplicated.
	Atomic AtomicMode
	// MaxAtomicBatches bounds this process's atomic batches in flight;
	// nats-server refuses more than 50 per stream and 1000 per server by
	// default. Defaults to 16.
	MaxAtomicBatches int
	// AckWait bounds the wait for the engine's acknowledgement of a publish.
	// Defaults to 30 seconds.
	AckWait time.Duration
}

// WithDefaults returns the config with every unset field at its default.
func (c PublisherConfig) WithDefaults() PublisherConfig {
	c.MaxAtomicBatches = cmp.Or(c.MaxAtomicBatches, 16)
	c.AckWait = cmp.Or(c.AckWait, 30*time.Second)
	return c
}

func (c PublisherConfig) validate() error {
	if c.Atomic < AtomicReplicated || c.Atomic > AtomicNever {
		return fmt.Errorf("topic: unknown atomic mode %d", c.Atomic)
	}
	if c.MaxAtomicBatches < 1 || c.AckWait < 0 {
		return errors.New("topic: MaxAtomicBatches must be positive and AckWait not negative")
	}
	return nil
}

// Publisher stores messages of topics that have a matching subscription.
type Publisher struct {
	cfg    PublisherConfig
	store  *Store
	stream *stream.Stream
	out    *stream.Publisher
	// atomic: batches are atomic. It turns off for good if the stream stops
	// allowing them.
	atomic atomic.Bool
	slots  chan struct{} // atomic batches in flight
	// pause waits before an atomic batch is tried again (tests replace it).
	pause func(ctx context.Context, d time.Duration) error
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Engine is what the publisher needs of the engine (an *engine.Engine).
type Engine interface {
	OpenStream(ctx context.Context, cfg stream.Config) (*stream.Stream, error)
	Publisher() (*stream.Publisher, error)
}

// NewPublisher returns a publisher over the store and the engine with the
// default config, creating the message stream, or updating an existing one
// to allow atomic batches.
func NewPublisher(ctx context.Context, store *Store, eng Engine) (*Publisher, error) {
	return NewPublisherWith(ctx, PublisherConfig{}, store, eng)
}

// NewPublisherWith is NewPublisher with a config.
func NewPublisherWith(ctx context.Context, cfg PublisherConfig, store *Store, eng Engine) (*Publisher, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s, err := eng.OpenStream(ctx, StreamConfig())
	if err != nil {
		return nil, err
	}
	out, err := eng.Publisher()
	if err != nil {
		return nil, err
	}
	p := &Publisher{cfg: cfg, store: store, stream: s, out: out, slots: make(chan struct{}, cfg.MaxAtomicBatches), pause: sleep}
	p.atomic.Store(s.AllowsAtomic() && (cfg.Atomic == AtomicAlways || cfg.Atomic == AtomicReplicated && s.Replicated()))
	return p, nil
}

// Atomic reports whether a publish of several messages is atomic.
func (p *Publisher) Atomic() bool { return p.atomic.Load() }

// Publish stores msgs on the topic and returns their message ids, in order,
// once the engine has acknowledged every one. A topic without subscriptions
// refuses with ErrNoSubscription, and a batch of which no message matches any
// subscription with ErrNoMatch. When batches are atomic (Atomic), an error
// means none of msgs is stored; otherwise some may be.
func (p *Publisher) Publish(ctx context.Context, t Topic, msgs []Message) ([]string, error) {
	subs := p.store.Subscriptions(t.AppID, t.Name)
	if len(subs) == 0 {
		return nil, ErrNoSubscription
	}
	if !anyMatch(t.FilterType, subs, msgs) {
		return nil, ErrNoMatch
	}
	topicRev, subRev := p.store.Revisions()
	b := batch{
		subject:  Subject(t.AppID, t.Name),
		indexRev: []string{strconv.FormatUint(topicRev, 10) + "." + strconv.FormatUint(subRev, 10)},
		msgs:     msgs,
		ids:      newMessageIDs(len(msgs)),
	}
	if len(msgs) > 1 && p.atomic.Load() {
		err := p.publishAtomic(ctx, &b)
		if !errors.Is(err, errAtomicDisabled) {
			if err != nil {
				return nil, err
			}
			return b.ids, nil
		}
		// Nothing of the batch was stored: publish it message by message.
		p.atomic.Store(false)
	}
	if err := p.publishEach(ctx, &b); err != nil {
		return nil, err
	}
	return b.ids, nil
}

// batch is one publish call's messages with what their headers share.
type batch struct {
	subject  string
	indexRev []string
	msgs     []Message
	ids      []string
	tags     []string // the last tags encoded
	tagsJSON []string
}

// setHeader sets h to message i's headers. A message's headers are encoded
// before the next is filled in, so one map serves a whole batch.
func (b *batch) setHeader(h stream.Header, i int) {
	m := b.msgs[i]
	h[HeaderMsgID] = b.ids[i : i+1 : i+1]
	h[HeaderIndexRev] = b.indexRev
	if len(m.Tags) > 0 {
		// The messages of an API batch share their tags: encode them once.
		if b.tagsJSON == nil || !slices.Equal(m.Tags, b.tags) {
			enc, _ := json.Marshal(m.Tags)
			b.tags, b.tagsJSON = m.Tags, []string{string(enc)}
		}
		h[HeaderTags] = b.tagsJSON
	} else {
		delete(h, HeaderTags)
	}
	if m.RoutingKey != "" {
		h[HeaderRoutingKey] = []string{m.RoutingKey}
	} else {
		delete(h, HeaderRoutingKey)
	}
}

// publishEach publishes every message with its own acknowledgement.
func (p *Publisher) publishEach(ctx context.Context, b *batch) error {
	h := make(stream.Header, 4)
	err := p.out.Each(ctx, len(b.msgs), p.cfg.AckWait, func(i int, m *stream.Msg) {
		b.setHeader(h, i)
		m.Subject, m.Header, m.Data = b.subject, h, b.msgs[i].Body
	})
	if err != nil {
		return fmt.Errorf("topic: publish not stored: %w", err)
	}
	return nil
}

// JetStream's refusals of an atomic batch that herald handles.
var (
	errAtomicDisabled = stream.ErrAtomicDisabled
	errAtomicTooMany  = stream.ErrAtomicTooMany
)

// A batch the engine refused because too many were in flight is tried this
// many times in all, after pauses that start around atomicRetryDelay and
// double.
const (
	atomicTries      = 5
	atomicRetryDelay = 10 * time.Millisecond
)

// publishAtomic publishes the messages as one atomic batch: the engine
// stages them and stores all of them when the last one, the commit, arrives,
// or none. Only the first message and the commit are acknowledged: the first
// says whether the engine took the batch on (it refuses one when too many
// are in flight, and then the batch is retried), the commit whether it is
// stored.
func (p *Publisher) publishAtomic(ctx context.Context, b *batch) error {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.slots }()
	delay := atomicRetryDelay
	for attempt := 1; ; attempt++ {
		err := p.publishBatch(ctx, b, b.ids[0]+"-"+strconv.Itoa(attempt))
		if !errors.Is(err, errAtomicTooMany) || attempt == atomicTries {
			return err
		}
		if err := p.pause(ctx, delay/2+rand.N(delay)); err != nil {
			return err
		}
		delay *= 2
	}
}

func (p *Publisher) publishBatch(ctx context.Context, b *batch, id string) error {
	h := make(stream.Header, 7)
	err := p.out.Atomic(ctx, id, len(b.msgs), p.cfg.AckWait, func(i int, m *stream.Msg) {
		b.setHeader(h, i)
		m.Subject, m.Header, m.Data = b.subject, h, b.msgs[i].Body
	})
	if err != nil {
		return fmt.Errorf("topic: batch not stored: %w", err)
	}
	return nil
}

func anyMatch(filterType int, subs []*Subscription, msgs []Message) bool {
	for _, m := range msgs {
		for _, s := range subs {
			if Matches(filterType, s, m.Tags, m.RoutingKey) {
				return true
			}
		}
	}
	return false
}

// MessageCount is how many of a topic's messages the engine retains.
func (p *Publisher) MessageCount(ctx context.Context, appID int64, topicName string) (int64, error) {
	n, err := p.stream.SubjectCount(ctx, Subject(appID, topicName))
	if err != nil {
		return 0, fmt.Errorf("topic: message count: %w", err)
	}
	return int64(n), nil
}

// PurgeMessages drops a deleted topic's messages.
func (p *Publisher) PurgeMessages(ctx context.Context, appID int64, topicName string) error {
	if err := p.stream.Purge(ctx, Subject(appID, topicName), 0); err != nil && !errors.Is(err, stream.ErrNotFound) {
		return fmt.Errorf("topic: purge: %w", err)
	}
	return nil
}

// NewMessageID is 32 upper-case hex characters, the shape of MNS message ids,
// which CMQ clients take as an opaque string too.
func NewMessageID() string { return newMessageIDs(1)[0] }

// newMessageIDs makes n message ids from one read of the random source.
func newMessageIDs(n int) []string {
	const idBytes = 16
	raw := make([]byte, n*idBytes)
	_, _ = crand.Read(raw)
	text := make([]byte, 2*len(raw))
	for i, c := range raw {
		text[2*i], text[2*i+1] = upperHex[c>>4], upperHex[c&0x0f]
	}
	all := string(text)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = all[2*idBytes*i : 2*idBytes*(i+1)]
	}
	return ids
}

const upperHex = "0123456789ABCDEF"

// DecodeIndexRev reads the index revisions a message was published at
// (zeros when absent).
func DecodeIndexRev(h map[string][]string) (topics, subs uint64) {
	t, s, _ := strings.Cut(stream.Header(h).Get(HeaderIndexRev), ".")
	topics, _ = strconv.ParseUint(t, 10, 64)
	subs, _ = strconv.ParseUint(s, 10, 64)
	return topics, subs
}

// DecodeTags reads the tags header of a stored message.
func DecodeTags(h map[string][]string) []string {
	v := stream.Header(h).Get(HeaderTags)
	if v == "" {
		return nil
	}
	var tags []string
	if err := json.Unmarshal([]byte(v), &tags); err != nil {
		return nil
	}
	return tags
}
