package delivery

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/topic"
)

// Stream, subjects and consumers of the retry stream.
const (
	RetryStream      = "HERALD_RETRIES"
	retryPrefix      = "herald.retry."
	schedulePrefix   = "herald.sched."
	fanoutConsumer   = "herald-fanout"
	retryConsumer    = "herald-retry"
	headerSchedule   = "Nats-Schedule"
	headerSchedTgt   = "Nats-Schedule-Target"
	retryTargetAppID = retryPrefix + "due" // records scheduled before targets named the subscription
)

// ErrHandBack is the outcome error of an attempt that was not made because
// herald is stopping: the message goes back to the engine for another try,
// without counting as an attempt.
var ErrHandBack = errors.New("delivery: stopping, attempt handed back")

// ErrDeferred is the outcome error of an attempt that was not made because
// its endpoint stalled: it is offered again after the sender's backoff,
// without counting as an attempt.
var ErrDeferred = errors.New("delivery: endpoint stalled, attempt deferred")

// Config tunes delivery.
type Config struct {
	// Policy returns the retry policy of a notifyStrategy. Required.
	Policy func(strategy string) RetryPolicy
	// DeferDelay is how long an attempt waits when its endpoint is saturated,
	// unless the Sender says better (Backoffer). Defaults to 1 second.
	DeferDelay time.Duration
	// AckWait is how long the engine waits without news of a message before
	// giving it to another consumer. While its attempts run, herald tells the
	// engine the message is in progress every AckWait/3, so this is how long
	// a crashed process's messages wait before another process (or the
	// restarted one) takes them over. Defaults to 30 seconds.
	AckWait time.Duration
	// MaxAckPending bounds messages in flight per consumer. Defaults to 65536.
	MaxAckPending int
}

// WithDefaults returns the config with every unset field at its default.
func (c Config) WithDefaults() Config {
	c.DeferDelay = cmp.Or(c.DeferDelay, time.Second)
	c.AckWait = cmp.Or(c.AckWait, 30*time.Second)
	c.MaxAckPending = cmp.Or(c.MaxAckPending, 65536)
	return c
}

func (c Config) validate() error {
	if c.Policy == nil {
		return errors.New("delivery: Config.Policy is required")
	}
	return nil
}

// Deps are what delivery works with.
type Deps struct {
	JS jetstream.JetStream
	// Stream creates or updates a stream (the engine's replica settings).
	Stream func(context.Context, jetstream.StreamConfig) (jetstream.Stream, error)
	Subs   Subscriptions
	Sender Sender
	Queues QueueSink // nil: queue subscriptions wait in the retry stream
	Record Recorder
	Clock  clock.Clock
	Log    *slog.Logger
}

// Service runs the fan-out and retry consumers.
type Service struct {
	cfg      Config
	deps     Deps
	sched    scheduler
	messages jetstream.Stream
	retries  jetstream.Stream
	fanout   jetstream.Consumer
	retry    jetstream.Consumer

	mu       sync.Mutex
	contexts []jetstream.ConsumeContext
	stop     chan struct{}
	beating  sync.WaitGroup

	groupsMu sync.Mutex
	groups   map[*group]struct{} // source messages whose attempts run
	stopping bool                // no new groups; drained closes when groups empties
	drained  chan struct{}
}

// New creates the retry stream and both consumers.
func New(ctx context.Context, cfg Config, deps Deps) (*Service, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	retries, err := deps.Stream(ctx, jetstream.StreamConfig{
		Name:              RetryStream,
		Description:       "herald delivery retries: scheduled and due attempts",
		Subjects:          []string{retryPrefix + ">", schedulePrefix + ">"},
		Retention:         jetstream.WorkQueuePolicy,
		AllowMsgSchedules: true,
	})
	if err != nil {
		return nil, err
	}
	messages, err := deps.Stream(ctx, topic.StreamConfig())
	if err != nil {
		return nil, err
	}
	consumer := func(s jetstream.Stream, name, filter string) (jetstream.Consumer, error) {
		c, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
			Durable:       name,
			FilterSubject: filter,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       cfg.AckWait,
			MaxAckPending: cfg.MaxAckPending,
			MaxDeliver:    -1,
			DeliverPolicy: jetstream.DeliverAllPolicy,
		})
		if err != nil {
			return nil, fmt.Errorf("delivery: consumer %s: %w", name, err)
		}
		return c, nil
	}
	fanout, err := consumer(messages, fanoutConsumer, topic.SubjectPrefix+">")
	if err != nil {
		return nil, err
	}
	retry, err := consumer(retries, retryConsumer, retryPrefix+">")
	if err != nil {
		return nil, err
	}
	return &Service{
		cfg: cfg, deps: deps, messages: messages, retries: retries, fanout: fanout, retry: retry,
		sched:   jsScheduler{js: deps.JS},
		stop:    make(chan struct{}),
		groups:  map[*group]struct{}{},
		drained: make(chan struct{}),
	}, nil
}

// Start begins consuming.
func (s *Service) Start(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range []struct {
		cons   jetstream.Consumer
		handle func(jetstream.Msg)
	}{{s.fanout, s.handleMessage}, {s.retry, s.handleRetry}} {
		cc, err := c.cons.Consume(c.handle, jetstream.PullMaxMessages(1000), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if !errors.Is(err, jetstream.ErrNoHeartbeat) {
				s.deps.Log.Debug("delivery consumer", "err", err)
			}
		}))
		if err != nil {
			for _, started := range s.contexts {
				started.Stop()
			}
			return fmt.Errorf("delivery: consume: %w", err)
		}
		s.contexts = append(s.contexts, cc)
	}
	s.beating.Add(1)
	go s.heartbeat()
	return nil
}

// heartbeat tells the engine, every AckWait/3, that the messages whose
// attempts still run are in progress, so that a slow endpoint does not make
// the engine hand them to another consumer while a crashed process's
// messages are taken over after AckWait.
func (s *Service) heartbeat() {
	defer s.beating.Done()
	t := time.NewTicker(s.cfg.AckWait / 3)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.groupsMu.Lock()
		msgs := make([]jetstream.Msg, 0, len(s.groups))
		for g := range s.groups {
			msgs = append(msgs, g.msg)
		}
		s.groupsMu.Unlock()
		for _, m := range msgs {
			_ = m.InProgress()
		}
	}
}

// Stop stops taking new messages and waits, until ctx ends, for the attempts
// in flight; what is still unresolved then is redelivered by the engine.
func (s *Service) Stop(ctx context.Context) error {
	s.mu.Lock()
	for _, cc := range s.contexts {
		cc.Stop()
	}
	started := s.contexts != nil
	s.contexts = nil
	s.mu.Unlock()
	if started {
		close(s.stop)
		s.beating.Wait()
	}
	s.groupsMu.Lock()
	if !s.stopping {
		s.stopping = true
		if len(s.groups) == 0 {
			close(s.drained)
		}
	}
	s.groupsMu.Unlock()
	select {
	case <-s.drained:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("delivery: attempts still in flight: %w", ctx.Err())
	}
}

// record is a retry-stream entry: the next attempt of one message to one
// subscription. The body stays in the message stream.
type record struct {
	AppID      int64  `json:"app"`
	Topic      string `json:"topic"`
	Sub        string `json:"sub"`
	SubID      string `json:"subId"`
	MsgID      string `json:"msgId"`
	Seq        uint64 `json:"seq"`
	Published  int64  `json:"published"` // Unix ms
	Attempts   int    `json:"attempts"`  // attempts made so far
	DeliveryID string `json:"deliveryId"`
}

func (s *Service) handleMessage(msg jetstream.Msg) {
	appID, topicName, ok := topic.ParseSubject(msg.Subject())
	meta, err := msg.Metadata()
	if !ok || err != nil {
		s.deps.Log.Error("delivery: unreadable message, dropped", "subject", msg.Subject(), "err", err)
		_ = msg.Term()
		return
	}
	h := msg.Headers()
	// Another process may have published knowing of subscriptions this
	// process's index has not applied yet: wait for them, else try later.
	topicRev, subRev := topic.DecodeIndexRev(h)
	ctx, cancel := context.WithTimeout(context.Background(), indexWait)
	err = s.deps.Subs.WaitRevisions(ctx, topicRev, subRev)
	cancel()
	if err != nil {
		s.deps.Log.Warn("delivery: subscription index behind, message retried", "subject", msg.Subject(), "err", err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	t, ok := s.deps.Subs.TopicFromIndex(appID, topicName)
	if !ok {
		_ = msg.Ack() // the topic was deleted
		return
	}
	msgID := h.Get(topic.HeaderMsgID)
	tags := topic.DecodeTags(h)
	key := h.Get(topic.HeaderRoutingKey)
	var targets []*topic.Subscription
	for _, sub := range s.deps.Subs.Subscriptions(appID, topicName) {
		if topic.Matches(t.FilterType, sub, tags, key) {
			targets = append(targets, sub)
		}
	}
	if len(targets) == 0 {
		_ = msg.Ack()
		return
	}
	g := s.newGroup(msg, len(targets))
	if g == nil {
		_ = msg.Nak()
		return
	}
	var refused []refusal
	for _, sub := range targets {
		rec := record{
			AppID: appID, Topic: topicName, Sub: sub.Name, SubID: sub.ID, MsgID: msgID,
			Seq: meta.Sequence.Stream, Published: meta.Timestamp.UnixMilli(),
			DeliveryID: msgID + "-" + sub.ID,
		}
		if !s.attempt(rec, sub, msg.Data(), tags, key, g.done) {
			refused = append(refused, refusal{rec, sub})
		}
	}
	if len(refused) == len(targets) {
		// Every endpoint is saturated: let the engine offer the message
		// again later, which costs no write.
		g.abandon()
		_ = msg.NakWithDelay(s.backoff(targets[0]))
		return
	}
	for _, r := range refused {
		at := s.deps.Clock.Now().Add(s.backoff(r.sub))
		go func() { g.done(s.schedule(r.rec, at)) }()
	}
}

// refusal is an attempt the sender refused, to be deferred.
type refusal struct {
	rec record
	sub *topic.Subscription
}

// indexWait bounds how long a message waits for this process's index to
// catch up with the publisher's.
const indexWait = 5 * time.Second

func (s *Service) handleRetry(msg jetstream.Msg) {
	var rec record
	if err := json.Unmarshal(msg.Data(), &rec); err != nil {
		s.deps.Log.Error("delivery: unreadable retry record, dropped", "err", err)
		_ = msg.Term()
		return
	}
	sub, err := s.findSubscription(rec)
	if err != nil {
		s.deps.Log.Warn("delivery: subscription of a retry unknown for now", "msgId", rec.MsgID, "err", err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	if sub == nil {
		_ = msg.Ack() // unsubscribed (or re-created under the same name)
		return
	}
	g := s.newGroup(msg, 1)
	if g == nil {
		_ = msg.Nak()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	stored, err := s.messages.GetMsg(ctx, rec.Seq)
	cancel()
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		s.deps.Record.GaveUp(context.Background(), sub, rec.MsgID, errors.New("message expired"))
		g.done(true)
		return
	}
	if err != nil {
		s.deps.Log.Warn("delivery: load message for retry", "msgId", rec.MsgID, "err", err)
		g.done(false)
		return
	}
	if !s.attempt(rec, sub, stored.Data, topic.DecodeTags(stored.Header), stored.Header.Get(topic.HeaderRoutingKey), g.done) {
		g.abandon()
		_ = msg.NakWithDelay(s.backoff(sub))
	}
}

// findSubscription returns the subscription a retry record is for, or nil
// when it is gone (or was re-created under the same name); an error means
// it could not tell.
func (s *Service) findSubscription(rec record) (*topic.Subscription, error) {
	for _, sub := range s.deps.Subs.Subscriptions(rec.AppID, rec.Topic) {
		if sub.Name == rec.Sub && sub.ID == rec.SubID {
			return sub, nil
		}
	}
	// Not in this process's index: ask the bucket before dropping anything.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub, err := s.deps.Subs.Subscription(ctx, rec.AppID, rec.Topic, rec.Sub)
	switch {
	case errors.Is(err, topic.ErrSubscriptionNotFound), errors.Is(err, topic.ErrTopicNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	case sub.ID != rec.SubID:
		return nil, nil
	}
	return &sub, nil
}

// attempt makes attempt number rec.Attempts+1 and calls resolved once the
// attempt succeeded, was given up, or its next attempt is stored (true), or
// if it could not be (false: the source message goes back to the engine).
// It returns false, without calling resolved, when the sender refused the
// attempt because the endpoint is saturated.
func (s *Service) attempt(rec record, sub *topic.Subscription, body []byte, tags []string, key string, resolved func(bool)) bool {
	a := Attempt{
		Sub: sub, MsgID: rec.MsgID, Body: body, Tags: tags, RoutingKey: key,
		Published: time.UnixMilli(rec.Published), Number: rec.Attempts + 1, DeliveryID: rec.DeliveryID,
	}
	if sub.Protocol == topic.ProtocolQueue {
		go func() {
			if s.deps.Queues == nil {
				resolved(s.schedule(rec, s.deps.Clock.Now().Add(s.cfg.DeferDelay)))
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := s.deps.Queues.Enqueue(ctx, sub.AppID, sub.Endpoint, queueBody(&a), rec.MsgID)
			s.finish(rec, a, Outcome{Delivered: err == nil, Err: err}, resolved)
		}()
		return true
	}
	return s.deps.Sender.TrySend(a, func(o Outcome) { s.finish(rec, a, o, resolved) })
}

// backoff is how long an attempt the sender refused (or deferred) waits.
func (s *Service) backoff(sub *topic.Subscription) time.Duration {
	if b, ok := s.deps.Sender.(Backoffer); ok {
		return b.Backoff(sub)
	}
	return s.cfg.DeferDelay
}

func (s *Service) finish(rec record, a Attempt, o Outcome, resolved func(bool)) {
	switch {
	case o.Delivered:
		resolved(true)
		return
	case errors.Is(o.Err, ErrHandBack):
		resolved(false)
		return
	case errors.Is(o.Err, ErrDeferred):
		resolved(s.schedule(rec, s.deps.Clock.Now().Add(s.backoff(a.Sub))))
		return
	}
	if o.SignatureRejected {
		s.deps.Record.SignatureRejected(context.Background(), a.Sub)
	}
	rec.Attempts = a.Number
	next, ok := s.cfg.Policy(a.Sub.NotifyStrategy).Next(a.Number, a.Published, s.deps.Clock.Now())
	if !ok || errors.Is(o.Err, ErrUndeliverable) {
		reason := o.Err
		if reason == nil {
			reason = fmt.Errorf("endpoint answered HTTP %d", o.Status)
		}
		s.deps.Record.GaveUp(context.Background(), a.Sub, a.MsgID, reason)
		resolved(true)
		return
	}
	resolved(s.schedule(rec, next))
}

// schedule stores rec to come due at at, and reports success.
func (s *Service) schedule(rec record, at time.Time) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.sched.schedule(ctx, at, rec); err != nil {
		s.deps.Log.Warn("delivery: retry not stored, message handed back", "msgId", rec.MsgID, "err", err)
		return false
	}
	return true
}

// group acknowledges a source message once all its attempts are resolved.
type group struct {
	s       *Service
	msg     jetstream.Msg
	mu      sync.Mutex
	left    int
	handBak bool
}

// newGroup tracks msg's n attempts; it returns nil once Stop has begun, and
// the caller hands msg back.
func (s *Service) newGroup(msg jetstream.Msg, n int) *group {
	g := &group{s: s, msg: msg, left: n}
	s.groupsMu.Lock()
	defer s.groupsMu.Unlock()
	if s.stopping {
		return nil
	}
	s.groups[g] = struct{}{}
	return g
}

// forget stops tracking g, and tells Stop when the last group is gone.
func (g *group) forget() {
	g.s.groupsMu.Lock()
	defer g.s.groupsMu.Unlock()
	delete(g.s.groups, g)
	if g.s.stopping && len(g.s.groups) == 0 {
		close(g.s.drained)
	}
}

// abandon forgets a group none of whose attempts started; the caller
// returns its message to the engine.
func (g *group) abandon() { g.forget() }

func (g *group) done(ok bool) {
	g.mu.Lock()
	g.left--
	if !ok {
		g.handBak = true
	}
	last, handBack := g.left == 0, g.handBak
	g.mu.Unlock()
	if !last {
		return
	}
	if handBack {
		_ = g.msg.Nak()
	} else {
		_ = g.msg.Ack()
	}
	g.forget()
}

// scheduler stores a retry record that comes due at a time.
type scheduler interface {
	schedule(ctx context.Context, at time.Time, rec record) error
}

type jsScheduler struct{ js jetstream.JetStream }

func (j jsScheduler) schedule(ctx context.Context, at time.Time, rec record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	// Both subjects name the subscription, so that Waiting can count its
	// records; a schedule's own subject must be unique.
	unique := nats.NewInbox()[len(nats.InboxPrefix):]
	m := &nats.Msg{Subject: schedulePrefix + rec.SubID + "." + unique, Data: b, Header: nats.Header{}}
	m.Header.Set(headerSchedule, "@at "+at.UTC().Format(time.RFC3339Nano))
	m.Header.Set(headerSchedTgt, retryPrefix+rec.SubID+".due")
	if !subjectToken(rec.SubID) {
		m.Subject = schedulePrefix + unique
		m.Header.Set(headerSchedTgt, retryTargetAppID)
	}
	_, err = j.js.PublishMsg(ctx, m)
	return err
}

// Waiting is how many of a subscription's messages wait in the retry stream
// for their next attempt (scheduled, or due and not yet taken): the
// subscription's msgCount. Messages still on their first attempt are not
// counted.
func (s *Service) Waiting(ctx context.Context, subID string) (int64, error) {
	if !subjectToken(subID) {
		return 0, nil
	}
	info, err := s.retries.Info(ctx, jetstream.WithSubjectFilter("herald.*."+subID+".>"))
	if err != nil {
		return 0, fmt.Errorf("delivery: count retries: %w", err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return int64(n), nil
}

// subjectToken reports whether id can be one token of a subject.
func subjectToken(id string) bool {
	return id != "" && !strings.ContainsAny(id, ". *>\t\r\n")
}
