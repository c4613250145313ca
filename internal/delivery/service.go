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
	"sync/atomic"
	"time"

	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/engine/schedule"
	"github.com/herald-mq/herald/internal/engine/stream"
	"github.com/herald-mq/herald/internal/engine/workqueue"
	"github.com/herald-mq/herald/internal/topic"
)

// Stream, subjects and consumers of the retry stream.
const (
	RetryStream      = "HERALD_RETRIES"
	retryPrefix      = "herald.retry."
	schedulePrefix   = "herald.sched."
	fanoutConsumer   = "herald-fanout"
	retryConsumer    = "herald-retry"
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
	// Policy returns the retry policy of a notifyStrategy, or an error for a
	// strategy it does not know (a message of such a subscription is given
	// up after its first failed attempt, with that error). Required.
	Policy func(strategy string) (RetryPolicy, error)
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
	// LeaseAfter is how long the attempts of a message to several
	// subscriptions may stay unevenly resolved (some done, others still
	// running) before each running attempt gets a lease of its own in the
	// retry stream and the message is acknowledged: from then on a crash
	// repeats only the attempts that were running. Attempts that all end
	// within it cost no write. A subscription that had the message may get
	// it again after a crash up to LeaseAfter (and LeaseAfter/5 to notice)
	// after its attempt ended. Defaults to 250 milliseconds.
	LeaseAfter time.Duration
}

// WithDefaults returns the config with every unset field at its default.
func (c Config) WithDefaults() Config {
	c.DeferDelay = cmp.Or(c.DeferDelay, time.Second)
	c.AckWait = cmp.Or(c.AckWait, 30*time.Second)
	c.MaxAckPending = cmp.Or(c.MaxAckPending, 65536)
	c.LeaseAfter = cmp.Or(c.LeaseAfter, 250*time.Millisecond)
	return c
}

func (c Config) validate() error {
	if c.Policy == nil {
		return errors.New("delivery: Config.Policy is required")
	}
	if c.AckWait < 3*time.Millisecond || c.LeaseAfter < 5*time.Millisecond {
		return fmt.Errorf("delivery: AckWait %v or LeaseAfter %v too short", c.AckWait, c.LeaseAfter)
	}
	return nil
}

// Deps are what delivery works with.
type Deps struct {
	// Engine keeps the messages, consumers and retry schedules (an
	// *engine.Engine). Required.
	Engine Engine
	Subs   Subscriptions
	Sender Sender
	Queues QueueSink // nil: queue subscriptions wait in the retry stream
	Record Recorder
	Clock  clock.Clock
	Log    *slog.Logger
}

// Engine is what delivery needs of the engine (an *engine.Engine).
type Engine interface {
	OpenStream(ctx context.Context, cfg stream.Config) (*stream.Stream, error)
	Consumer(ctx context.Context, streamName string, cc workqueue.ConsumerConfig) (*workqueue.Consumer, error)
	Scheduler(ctx context.Context, streamName string) (*schedule.Scheduler, error)
}

// Service runs the fan-out and retry consumers.
type Service struct {
	cfg      Config
	deps     Deps
	sched    scheduler
	messages *stream.Stream
	fanout   *workqueue.Consumer
	retry    *workqueue.Consumer

	mu       sync.Mutex
	contexts []*workqueue.Consumption
	stop     chan struct{}
	stopOnce sync.Once
	beating  sync.WaitGroup

	groupsMu sync.Mutex
	groups   map[*group]struct{} // source messages whose attempts run
	stopping bool                // no new groups; drained closes when groups empties
	drained  chan struct{}
	// closing is stopping, read without the lock: acknowledgements are then
	// confirmed, because the engine closes right after Stop.
	closing atomic.Bool
}

// New creates the retry stream and both consumers.
func New(ctx context.Context, cfg Config, deps Deps) (*Service, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	_, err := deps.Engine.OpenStream(ctx, stream.Config{
		Name:           RetryStream,
		Description:    "herald delivery retries: scheduled and due attempts",
		Subjects:       []string{retryPrefix + ">", schedulePrefix + ">"},
		WorkQueue:      true,
		AllowSchedules: true,
		AllowRollup:    true, // a lease is renewed or replaced by a new message on its subject
	})
	if err != nil {
		return nil, err
	}
	messages, err := deps.Engine.OpenStream(ctx, topic.StreamConfig())
	if err != nil {
		return nil, err
	}
	consumer := func(streamName, name, filter string) (*workqueue.Consumer, error) {
		c, err := deps.Engine.Consumer(ctx, streamName, workqueue.ConsumerConfig{
			Name: name, Filter: filter, AckWait: cfg.AckWait, MaxAckPending: cfg.MaxAckPending,
		})
		if err != nil {
			return nil, fmt.Errorf("delivery: %w", err)
		}
		return c, nil
	}
	fanout, err := consumer(topic.MessageStream, fanoutConsumer, topic.SubjectPrefix+">")
	if err != nil {
		return nil, err
	}
	retry, err := consumer(RetryStream, retryConsumer, retryPrefix+">")
	if err != nil {
		return nil, err
	}
	sched, err := deps.Engine.Scheduler(ctx, RetryStream)
	if err != nil {
		return nil, err
	}
	return &Service{
		cfg: cfg, deps: deps, messages: messages, fanout: fanout, retry: retry,
		sched:   engineScheduler{s: sched},
		stop:    make(chan struct{}),
		groups:  map[*group]struct{}{},
		drained: make(chan struct{}),
	}, nil
}

// Start begins consuming, until Stop. An ended ctx refuses the start.
func (s *Service) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delivery: start: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range []struct {
		cons   *workqueue.Consumer
		handle func(*workqueue.Msg)
	}{{s.fanout, s.handleMessage}, {s.retry, s.handleRetry}} {
		cc, err := c.cons.Consume(c.handle, 1000, func(err error) {
			s.deps.Log.Debug("delivery consumer", "err", err)
		})
		if err != nil {
			for _, started := range s.contexts {
				started.Stop()
			}
			return fmt.Errorf("delivery: consume: %w", err)
		}
		s.contexts = append(s.contexts, cc)
	}
	s.beating.Add(2)
	go s.heartbeat()
	go s.leaseLoop()
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
		for _, g := range s.liveGroups() {
			if g.holdsMessage() {
				_ = g.msg.InProgress()
			}
		}
	}
}

// Stop stops taking new messages and waits, until ctx ends, for the attempts
// in flight. Attempts handed back (the push dispatcher is stopping too) are
// stored as retry records due at once, so a subscription that already has
// the message does not get it again, and the next process takes them up
// without waiting for the AckWait. Messages taken from the engine and not
// started are handed back to it, to be offered again at once.
func (s *Service) Stop(ctx context.Context) error {
	s.groupsMu.Lock()
	s.stopping = true
	s.closing.Store(true)
	s.groupsMu.Unlock()
	s.mu.Lock()
	contexts := s.contexts
	s.contexts = nil
	s.mu.Unlock()
	var err error
	for _, cc := range contexts {
		cc.Drain() // the messages already fetched are handed back
	}
	for _, cc := range contexts {
		select {
		case <-cc.Closed():
		case <-ctx.Done():
			cc.Stop()
			err = fmt.Errorf("delivery: consumers not drained: %w", ctx.Err())
		}
	}
	s.groupsMu.Lock()
	if len(s.groups) == 0 {
		s.closeDrained()
	}
	s.groupsMu.Unlock()
	if err == nil {
		select {
		case <-s.drained:
		case <-ctx.Done():
			err = fmt.Errorf("delivery: attempts still in flight: %w", ctx.Err())
		}
	}
	if contexts != nil {
		s.stopOnce.Do(func() { close(s.stop) })
		s.beating.Wait()
	}
	return err
}

// closeDrained tells Stop that no group is left; groupsMu is held.
func (s *Service) closeDrained() {
	select {
	case <-s.drained:
	default:
		close(s.drained)
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

func (s *Service) handleMessage(msg *workqueue.Msg) {
	appID, topicName, ok := topic.ParseSubject(msg.Subject())
	meta := msg.Delivery
	if !ok || meta.StreamSeq == 0 {
		s.deps.Log.Error("delivery: unreadable message, dropped", "subject", msg.Subject())
		_ = msg.Term("")
		return
	}
	if s.closing.Load() { // fetched before Stop: not started
		s.handBack(msg)
		return
	}
	if meta.Delivered > 1 && s.released(meta.StreamSeq) {
		s.ack(msg)
		return
	}
	h := msg.Header()
	// Another process may have published knowing of subscriptions this
	// process's index has not applied yet: wait for them, else try later.
	topicRev, subRev := topic.DecodeIndexRev(h)
	ctx, cancel := context.WithTimeout(context.Background(), indexWait)
	err := s.deps.Subs.WaitRevisions(ctx, topicRev, subRev)
	cancel()
	if err != nil {
		s.deps.Log.Warn("delivery: subscription index behind, message retried", "subject", msg.Subject(), "err", err)
		_ = msg.NakAfter(time.Second)
		return
	}
	t, ok := s.deps.Subs.TopicFromIndex(appID, topicName)
	if !ok {
		s.ack(msg) // the topic was deleted
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
		s.ack(msg)
		return
	}
	recs := make([]record, len(targets))
	for i, sub := range targets {
		recs[i] = record{
			AppID: appID, Topic: topicName, Sub: sub.Name, SubID: sub.ID, MsgID: msgID,
			Seq: meta.StreamSeq, Published: meta.Stored.UnixMilli(),
			DeliveryID: msgID + "-" + sub.ID,
		}
	}
	g := s.newGroup(msg, recs)
	if g == nil {
		s.handBack(msg)
		return
	}
	var refused []int
	for i, sub := range targets {
		if !s.attempt(sub, msg.Data(), tags, key, g.tickets[i]) {
			refused = append(refused, i)
		}
	}
	if len(refused) == len(targets) {
		// Every endpoint is saturated: let the engine offer the message
		// again later, which costs no write.
		g.abandon()
		_ = msg.NakAfter(s.backoff(targets[0]))
		return
	}
	for _, i := range refused {
		tk := g.tickets[i]
		at := s.deps.Clock.Now().Add(s.backoff(targets[i]))
		go tk.end(verdict{again: true, rec: tk.rec, at: at})
	}
}

// released reports whether an earlier delivery of the message at seq was
// released: its attempts then running got leases, which are still stored,
// and the others had ended, so its acknowledgement was sent, and lost (the
// engine writes acknowledgements to disk up to about 100 ms after it takes
// them, so a kill -9 loses the last ones). The leases stand for the message
// then: attempting it again would push it again to every subscription that
// had it.
func (s *Service) released(seq uint64) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	leased, err := s.sched.leased(ctx, seq)
	if err != nil {
		s.deps.Log.Warn("delivery: leases of a redelivered message not read, message attempted again", "seq", seq, "err", err)
		return false
	}
	return leased
}

// indexWait bounds how long a message waits for this process's index to
// catch up with the publisher's.
const indexWait = 5 * time.Second

func (s *Service) handleRetry(msg *workqueue.Msg) {
	var rec record
	if err := json.Unmarshal(msg.Data(), &rec); err != nil {
		s.deps.Log.Error("delivery: unreadable retry record, dropped", "err", err)
		_ = msg.Term("")
		return
	}
	if s.closing.Load() { // fetched before Stop: not started
		s.handBack(msg)
		return
	}
	sub, err := s.findSubscription(rec)
	if err != nil {
		s.deps.Log.Warn("delivery: subscription of a retry unknown for now", "msgId", rec.MsgID, "err", err)
		_ = msg.NakAfter(time.Second)
		return
	}
	if sub == nil {
		s.ack(msg) // unsubscribed (or re-created under the same name)
		return
	}
	g := s.newGroup(msg, []record{rec})
	if g == nil {
		s.handBack(msg)
		return
	}
	tk := g.tickets[0]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	stored, err := s.messages.Get(ctx, rec.Seq)
	cancel()
	if errors.Is(err, stream.ErrNotFound) {
		s.deps.Record.GaveUp(context.Background(), sub, rec.MsgID, errors.New("message expired"))
		tk.end(verdict{})
		return
	}
	if err != nil {
		s.deps.Log.Warn("delivery: load message for retry", "msgId", rec.MsgID, "err", err)
		tk.fail()
		return
	}
	if !s.attempt(sub, stored.Data, topic.DecodeTags(stored.Header), stored.Header.Get(topic.HeaderRoutingKey), tk) {
		g.abandon()
		_ = msg.NakAfter(s.backoff(sub))
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

// attempt makes attempt number tk.rec.Attempts+1 and ends tk with what it
// leaves to store. It returns false, without ending tk, when the sender
// refused the attempt because the endpoint is saturated.
func (s *Service) attempt(sub *topic.Subscription, body []byte, tags []string, key string, tk *ticket) bool {
	rec := tk.rec
	a := Attempt{
		Sub: sub, MsgID: rec.MsgID, Body: body, Tags: tags, RoutingKey: key,
		Published: time.UnixMilli(rec.Published), Number: rec.Attempts + 1, DeliveryID: rec.DeliveryID,
	}
	if sub.Protocol == topic.ProtocolQueue {
		go func() {
			if s.deps.Queues == nil {
				tk.end(verdict{again: true, rec: rec, at: s.deps.Clock.Now().Add(s.cfg.DeferDelay)})
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := s.deps.Queues.Enqueue(ctx, sub.AppID, sub.Endpoint, queueBody(&a), rec.MsgID)
			tk.end(s.judge(rec, a, Outcome{Delivered: err == nil, Err: err}))
		}()
		return true
	}
	return s.deps.Sender.TrySend(a, func(o Outcome) { tk.end(s.judge(rec, a, o)) })
}

// backoff is how long an attempt the sender refused (or deferred) waits.
func (s *Service) backoff(sub *topic.Subscription) time.Duration {
	if b, ok := s.deps.Sender.(Backoffer); ok {
		return b.Backoff(sub)
	}
	return s.cfg.DeferDelay
}

// verdict is what an ended attempt leaves to store: nothing (delivered or
// given up), or the record of the next attempt and when it is due.
type verdict struct {
	again bool
	rec   record
	at    time.Time
}

// judge turns an attempt's outcome into its verdict, recording give-ups.
func (s *Service) judge(rec record, a Attempt, o Outcome) verdict {
	switch {
	case o.Delivered:
		return verdict{}
	case errors.Is(o.Err, ErrHandBack):
		// Not made: due again at once, without counting. A record of its own,
		// not the source message, so that the other subscriptions of the
		// message do not get it again.
		return verdict{again: true, rec: rec, at: s.deps.Clock.Now()}
	case errors.Is(o.Err, ErrDeferred):
		return verdict{again: true, rec: rec, at: s.deps.Clock.Now().Add(s.backoff(a.Sub))}
	}
	if o.SignatureRejected {
		s.deps.Record.SignatureRejected(context.Background(), a.Sub)
	}
	rec.Attempts = a.Number
	reason := o.Err
	if reason == nil {
		reason = fmt.Errorf("endpoint answered HTTP %d", o.Status)
	}
	policy, err := s.cfg.Policy(a.Sub.NotifyStrategy)
	if err != nil {
		// A stored strategy the API never accepts: nothing says when to try
		// again.
		s.deps.Record.GaveUp(context.Background(), a.Sub, a.MsgID, fmt.Errorf("%w (the attempt failed: %w)", err, reason))
		return verdict{}
	}
	next, ok := policy.Next(a.Number, a.Published, s.deps.Clock.Now())
	if !ok || errors.Is(o.Err, ErrUndeliverable) {
		s.deps.Record.GaveUp(context.Background(), a.Sub, a.MsgID, reason)
		return verdict{}
	}
	return verdict{again: true, rec: rec, at: next}
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

// ack acknowledges msg: its attempts are resolved. While stopping it waits
// for the engine to confirm, since the engine closes right after Stop and an
// acknowledgement lost then would have every subscription of the message
// pushed it again.
func (s *Service) ack(msg *workqueue.Msg) {
	if !s.closing.Load() {
		_ = msg.Ack()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), confirmWait)
	defer cancel()
	if err := msg.AckSync(ctx); err != nil {
		s.deps.Log.Warn("delivery: acknowledgement not confirmed", "subject", msg.Subject(), "err", err)
	}
}

// handBack returns msg to the engine to be offered again at once. The nak
// carries a delay, however short, because the engine records only those: a
// plain nak lives in the server's memory, and after a restart the message
// would wait for the AckWait. While stopping the nak is confirmed (the
// protocol's nak with a reply subject), so that it is in before the engine
// closes.
func (s *Service) handBack(msg *workqueue.Msg) {
	if !s.closing.Load() {
		_ = msg.NakAfter(time.Millisecond)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), confirmWait)
	defer cancel()
	if err := msg.NakAfterSync(ctx, time.Millisecond); err != nil {
		s.deps.Log.Warn("delivery: hand-back not confirmed", "subject", msg.Subject(), "err", err)
	}
}

// confirmWait bounds how long Stop waits for the engine to confirm one
// acknowledgement.
const confirmWait = 5 * time.Second

// scheduler stores retry records that come due at a time.
type scheduler interface {
	// schedule stores a new record.
	schedule(ctx context.Context, at time.Time, rec record) error
	// lease stores rec due at at as the only record on subject (a new
	// subject when subject is empty), and returns the subject and the
	// record's sequence.
	lease(ctx context.Context, subject string, at time.Time, rec record) (string, uint64, error)
	// unlease deletes the record at seq (schedule.ErrNotFound when it came
	// due meanwhile).
	unlease(ctx context.Context, seq uint64) error
	// leased reports whether a lease of the message at seq (or the record it
	// became) is stored.
	leased(ctx context.Context, seq uint64) (bool, error)
	// count is how many records wait on subjects matching filter.
	count(ctx context.Context, filter string) (uint64, error)
}

// engineScheduler keeps retry records as the engine's scheduled messages.
type engineScheduler struct {
	s *schedule.Scheduler
}

func (j engineScheduler) schedule(ctx context.Context, at time.Time, rec record) error {
	m, err := scheduleMsg(recordSubject(rec, ""), at, rec)
	if err != nil {
		return err
	}
	_, err = j.s.Schedule(ctx, m)
	return err
}

func (j engineScheduler) lease(ctx context.Context, subject string, at time.Time, rec record) (string, uint64, error) {
	if subject == "" {
		subject = leaseSubject(rec)
	}
	m, err := scheduleMsg(subject, at, rec)
	if err != nil {
		return "", 0, err
	}
	if subjectToken(rec.SubID) {
		m.Target = leaseTarget(rec)
	}
	m.Replace = true // a renewed lease replaces the old
	seq, err := j.s.Schedule(ctx, m)
	if err != nil {
		return "", 0, err
	}
	return subject, seq, nil
}

func (j engineScheduler) unlease(ctx context.Context, seq uint64) error {
	return j.s.Cancel(ctx, seq)
}

func (j engineScheduler) count(ctx context.Context, filter string) (uint64, error) {
	return j.s.Count(ctx, filter)
}

func (j engineScheduler) leased(ctx context.Context, seq uint64) (bool, error) {
	n, err := j.s.Count(ctx, fmt.Sprintf("herald.*.*.lease.%d", seq))
	return n > 0, err
}

// leaseSubject is the subject of the lease of rec's attempt: one per
// subscription and message, so that a later delivery of the message finds
// it (leased) and its own lease for the subscription replaces it. The
// engine moves it, when due, to leaseTarget.
func leaseSubject(rec record) string {
	if !subjectToken(rec.SubID) {
		return recordSubject(rec, "lease.") // not found by leased
	}
	return fmt.Sprintf("%s%s.lease.%d", schedulePrefix, rec.SubID, rec.Seq)
}

func leaseTarget(rec record) string {
	return fmt.Sprintf("%s%s.lease.%d", retryPrefix, rec.SubID, rec.Seq)
}

// recordSubject is a new, unique subject for a record of rec's subscription.
// It names the subscription, so that Waiting can count its records; a
// schedule's own subject must be unique.
func recordSubject(rec record, kind string) string {
	unique := workqueue.NewID()
	if !subjectToken(rec.SubID) {
		return schedulePrefix + kind + unique
	}
	return schedulePrefix + rec.SubID + "." + kind + unique
}

// scheduleMsg is rec as a message on subject that the engine moves to the
// retry consumer's subjects at at.
func scheduleMsg(subject string, at time.Time, rec record) (schedule.Msg, error) {
	b, err := json.Marshal(rec)
	if err != nil {
		return schedule.Msg{}, err
	}
	target := retryPrefix + rec.SubID + ".due"
	if !subjectToken(rec.SubID) {
		target = retryTargetAppID
	}
	return schedule.Msg{Subject: subject, Target: target, At: at, Data: b}, nil
}

// Waiting is how many of a subscription's messages wait in the retry stream
// for their next attempt (scheduled, or due and not yet taken): the
// subscription's msgCount. Messages on their first attempt are counted only
// once the attempt holds a lease (it ran long after the message's other
// attempts ended).
func (s *Service) Waiting(ctx context.Context, subID string) (int64, error) {
	if !subjectToken(subID) {
		return 0, nil
	}
	n, err := s.sched.count(ctx, "herald.*."+subID+".>")
	if err != nil {
		return 0, fmt.Errorf("delivery: count retries: %w", err)
	}
	return int64(n), nil
}

// subjectToken reports whether id can be one token of a subject.
func subjectToken(id string) bool {
	return id != "" && !strings.ContainsAny(id, ". *>\t\r\n")
}
