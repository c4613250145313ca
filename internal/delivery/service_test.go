package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/delivery/retry"
	"github.com/herald-mq/herald/internal/engine"
	"github.com/herald-mq/herald/internal/engine/enginetest"
	"github.com/herald-mq/herald/internal/topic"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine.func1"))
}

// fakeSender records attempts and answers them with a scripted outcome.
type fakeSender struct {
	mu       sync.Mutex
	attempts []Attempt
	answer   func(a Attempt) (Outcome, bool)
	got      chan Attempt
}

func newFakeSender(answer func(Attempt) (Outcome, bool)) *fakeSender {
	return &fakeSender{answer: answer, got: make(chan Attempt, 1000)}
}

func (f *fakeSender) TrySend(a Attempt, done func(Outcome)) bool {
	o, accepted := f.answer(a)
	if !accepted {
		return false
	}
	f.mu.Lock()
	f.attempts = append(f.attempts, a)
	f.mu.Unlock()
	f.got <- a
	go done(o)
	return true
}

type fakeGiveUps struct{ got chan string }

func (g fakeGiveUps) GaveUp(_ context.Context, sub *topic.Subscription, msgID string, _ error) {
	g.got <- sub.Name + "/" + msgID
}

func (g fakeGiveUps) SignatureRejected(context.Context, *topic.Subscription) {}

type fakeQueues struct{ got chan string }

func (q fakeQueues) Enqueue(_ context.Context, _ int64, queue string, body []byte, msgID string) error {
	q.got <- queue + ":" + string(body) + ":" + msgID
	return nil
}

// recordingScheduler remembers when each retry was scheduled for.
type recordingScheduler struct {
	scheduler
	at chan time.Time
}

func (r recordingScheduler) schedule(ctx context.Context, at time.Time, rec record) error {
	r.at <- at
	return r.scheduler.schedule(ctx, at, rec)
}

type rig struct {
	t       *testing.T
	eng     *engine.Engine
	store   *topic.Store
	pub     *topic.Publisher
	svc     *Service
	sender  *fakeSender
	giveUps fakeGiveUps
	queues  fakeQueues
	sched   recordingScheduler
	clk     *clock.Fake
}

func newRig(t *testing.T, scale float64, answer func(Attempt) (Outcome, bool)) *rig {
	t.Helper()
	f := newFakeSender(answer)
	r := newRigWith(t, scale, f, nil)
	r.sender = f
	return r
}

// newRigWith is a rig whose service sends with sender and is configured by
// tune, if not nil.
func newRigWith(t *testing.T, scale float64, sender Sender, tune func(*Config)) *rig {
	t.Helper()
	ctx := context.Background()
	eng := enginetest.New(t)
	log := slog.New(slog.DiscardHandler)
	clk := clock.NewFake(time.Now())
	store, pub, err := topic.Open(ctx, eng, clk, log)
	require.NoError(t, err)
	t.Cleanup(store.Close)
	r := &rig{
		t: t, eng: eng, store: store, pub: pub, clk: clk,
		giveUps: fakeGiveUps{got: make(chan string, 100)},
		queues:  fakeQueues{got: make(chan string, 100)},
	}
	r.svc = r.service(scale, sender, tune)
	r.sched = recordingScheduler{scheduler: r.svc.sched, at: make(chan time.Time, 100)}
	r.svc.sched = r.sched
	require.NoError(t, r.svc.Start(ctx))
	return r
}

// service is a new delivery service on the rig's engine, stopped at the end
// of the test.
func (r *rig) service(scale float64, sender Sender, tune func(*Config)) *Service {
	t := r.t
	policies := retry.Config{Scale: scale, Int64N: func(n int64) int64 { return n - 1 }}
	cfg := Config{
		Policy:     func(strategy string) (RetryPolicy, error) { return retry.New(strategy, policies) },
		DeferDelay: 50 * time.Millisecond,
	}
	if tune != nil {
		tune(&cfg)
	}
	svc, err := New(context.Background(), cfg, Deps{
		Engine: r.eng, Subs: r.store, Sender: sender, Queues: r.queues,
		Record: r.giveUps, Clock: r.clk, Log: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = svc.Stop(ctx)
	})
	return svc
}

func (r *rig) topic(name string, filterType int, subs ...topic.Subscription) topic.Topic {
	ctx := context.Background()
	tp, err := r.store.CreateTopic(ctx, topic.Topic{AppID: 1, Name: name, MaxMsgSize: 65536, FilterType: filterType})
	require.NoError(r.t, err)
	for _, s := range subs {
		s.AppID, s.TopicName = 1, name
		s.Protocol = cmpOr(s.Protocol, topic.ProtocolHTTP)
		s.NotifyStrategy = cmpOr(s.NotifyStrategy, topic.ExponentialDecayRetry)
		_, err := r.store.Subscribe(ctx, s, 100)
		require.NoError(r.t, err)
	}
	return tp
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (r *rig) next() Attempt {
	r.t.Helper()
	select {
	case a := <-r.sender.got:
		return a
	case <-time.After(10 * time.Second):
		r.t.Fatal("no attempt within 10s")
		return Attempt{}
	}
}

// settled waits until the fan-out consumer has acknowledged every message:
// every attempt they give rise to has been made by then, so an attempt
// not received yet will not come. A signal, not a time window.
func (r *rig) settled() {
	r.t.Helper()
	r.waitAcked(topic.MessageStream, fanoutConsumer)
	require.Empty(r.t, r.sender.got, "no other attempt")
}

// retriesSettled waits until the retry stream is empty and its consumer
// idle: no record waits to come due, so no retry attempt will come.
func (r *rig) retriesSettled() {
	r.t.Helper()
	require.Eventually(r.t, func() bool { return len(r.retryRecords()) == 0 }, 10*time.Second, 10*time.Millisecond,
		"retry records left")
	r.waitAcked(RetryStream, retryConsumer)
	require.Empty(r.t, r.sender.got, "no other attempt")
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("nothing received within 10s")
		var zero T
		return zero
	}
}

func ok(Attempt) (Outcome, bool) { return Outcome{Delivered: true, Status: 200}, true }

func TestFanOutFollowsTagFilters(t *testing.T) {
	t.Parallel()
	r := newRig(t, 1, ok)
	tp := r.topic("t", topic.FilterTag,
		topic.Subscription{Name: "all", Endpoint: "http://e/1"},
		topic.Subscription{Name: "ab", Endpoint: "http://e/2", FilterTags: []string{"a", "b"}},
		topic.Subscription{Name: "c", Endpoint: "http://e/3", FilterTags: []string{"c"}},
		topic.Subscription{Name: "q", Protocol: topic.ProtocolQueue, Endpoint: "inbox", FilterTags: []string{"b"}},
	)
	ids, err := r.pub.Publish(context.Background(), tp, []topic.Message{{Body: []byte("hello"), Tags: []string{"b", "x"}}})
	require.NoError(t, err)
	got := map[string]Attempt{}
	for range 2 {
		a := r.next()
		got[a.Sub.Name] = a
	}
	require.Contains(t, got, "all")
	require.Contains(t, got, "ab")
	a := got["ab"]
	require.Equal(t, ids[0], a.MsgID)
	require.Equal(t, "hello", string(a.Body))
	require.Equal(t, []string{"b", "x"}, a.Tags)
	require.Equal(t, 1, a.Number)
	require.Equal(t, ids[0]+"-"+a.Sub.ID, a.DeliveryID)
	require.WithinDuration(t, time.Now(), a.Published, 5*time.Second)
	require.Equal(t, "inbox:hello:"+ids[0], recv(t, r.queues.got))
	r.settled()

	// Untagged messages reach only the unfiltered subscription.
	_, err = r.pub.Publish(context.Background(), tp, []topic.Message{{Body: []byte("plain")}})
	require.NoError(t, err)
	require.Equal(t, "all", r.next().Sub.Name)
	r.settled()
}

func (r *rig) waitAcked(stream, consumer string) {
	r.t.Helper()
	require.Eventually(r.t, func() bool {
		c, err := r.eng.JS.Consumer(context.Background(), stream, consumer)
		if err != nil {
			return false
		}
		info, err := c.Info(context.Background())
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0
	}, 10*time.Second, 20*time.Millisecond)
}

func TestRoutingKeys(t *testing.T) {
	t.Parallel()
	r := newRig(t, 1, ok)
	tp := r.topic("r", topic.FilterRouting,
		topic.Subscription{Name: "one", Endpoint: "http://e/1", BindingKeys: []string{"1.*.0"}},
		topic.Subscription{Name: "many", Endpoint: "http://e/2", BindingKeys: []string{"1.#.0"}},
		topic.Subscription{Name: "any", Endpoint: "http://e/3", BindingKeys: []string{"zzz", "#"}},
	)
	cases := []struct {
		key  string
		want []string
	}{
		{"1.x.0", []string{"any", "many", "one"}},
		{"1.2.3.4.4.2.2.0", []string{"any", "many"}},
		{"1.0", []string{"any", "many"}},
		{"", []string{"any"}},
	}
	for _, tc := range cases {
		_, err := r.pub.Publish(context.Background(), tp, []topic.Message{{Body: []byte(tc.key), RoutingKey: tc.key}})
		require.NoError(t, err)
		var names []string
		for range tc.want {
			a := r.next()
			require.Equal(t, tc.key, a.RoutingKey)
			names = append(names, a.Sub.Name)
		}
		require.ElementsMatch(t, tc.want, names, tc.key)
		r.settled()
	}
}

func TestPublishRefusals(t *testing.T) {
	t.Parallel()
	r := newRig(t, 1, ok)
	bare := r.topic("bare", topic.FilterTag)
	_, err := r.pub.Publish(context.Background(), bare, []topic.Message{{Body: []byte("x")}})
	require.ErrorIs(t, err, topic.ErrNoSubscription)
	tagged := r.topic("tagged", topic.FilterTag, topic.Subscription{Name: "s", Endpoint: "http://e", FilterTags: []string{"a"}})
	_, err = r.pub.Publish(context.Background(), tagged, []topic.Message{{Body: []byte("x"), Tags: []string{"b"}}})
	require.ErrorIs(t, err, topic.ErrNoMatch)
	n, err := r.pub.MessageCount(context.Background(), 1, "tagged")
	require.NoError(t, err)
	require.Zero(t, n, "refused publishes store nothing")
}

// Every attempt of EXPONENTIAL_DECAY_RETRY is scheduled at exactly the
// policy's time on the injected clock, and numbered.
func TestExponentialRetrySchedule(t *testing.T) {
	t.Parallel()
	const scale = 0.01
	var calls int
	var mu sync.Mutex
	r := newRig(t, scale, func(Attempt) (Outcome, bool) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls <= 4 {
			return Outcome{Status: 500}, true
		}
		return Outcome{Delivered: true, Status: 204}, true
	})
	tp := r.topic("t", topic.FilterTag, topic.Subscription{Name: "s", Endpoint: "http://e"})
	_, err := r.pub.Publish(context.Background(), tp, []topic.Message{{Body: []byte("x")}})
	require.NoError(t, err)
	now := r.clk.Now()
	for i, interval := range []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond} {
		a := r.next()
		require.Equal(t, i+1, a.Number)
		require.Equal(t, now.Add(interval), recv(t, r.sched.at), "attempt %d", i+1)
	}
	a := r.next()
	require.Equal(t, 5, a.Number)
	require.Equal(t, r.svc.retry.Name(), retryConsumer)
	r.waitAcked(RetryStream, retryConsumer)
	r.waitAcked(topic.MessageStream, fanoutConsumer)
}

// BACKOFF_RETRY makes three retries and then gives the message up.
func TestBackoffGivesUpAfterThreeRetries(t *testing.T) {
	t.Parallel()
	r := newRig(t, 0.001, func(Attempt) (Outcome, bool) { return Outcome{Err: errors.New("connection refused")}, true })
	tp := r.topic("t", topic.FilterTag, topic.Subscription{Name: "s", Endpoint: "http://e", NotifyStrategy: topic.BackoffRetry})
	ids, err := r.pub.Publish(context.Background(), tp, []topic.Message{{Body: []byte("x")}})
	require.NoError(t, err)
	now := r.clk.Now()
	for i := 1; i <= 4; i++ {
		require.Equal(t, i, r.next().Number)
		if i <= 3 {
			// Int64N returns n-1: the longest interval, 29 s, scaled.
			require.Equal(t, now.Add(29*time.Millisecond), recv(t, r.sched.at))
		}
	}
	require.Equal(t, "s/"+ids[0], recv(t, r.giveUps.got))
	r.retriesSettled()
}

// Waiting counts the messages a subscription's retries hold: the
// subscription's msgCount.
func TestWaitingCountsRetries(t *testing.T) {
	t.Parallel()
	r := newRig(t, 1, func(a Attempt) (Outcome, bool) {
		if a.Sub.Name == "down" {
			return Outcome{Status: 503}, true
		}
		return Outcome{Delivered: true, Status: 200}, true
	})
	tp := r.topic("t", topic.FilterTag,
		topic.Subscription{Name: "down", Endpoint: "http://down", NotifyStrategy: topic.BackoffRetry},
		topic.Subscription{Name: "up", Endpoint: "http://up"})
	_, err := r.pub.Publish(context.Background(), tp, []topic.Message{{Body: []byte("a")}, {Body: []byte("b")}, {Body: []byte("c")}})
	require.NoError(t, err)
	for range 3 {
		recv(t, r.sched.at) // each of down's first attempts failed: a retry 29 s away
	}
	ctx := t.Context()
	subs := r.store.Subscriptions(1, "t")
	ids := map[string]string{}
	for _, s := range subs {
		ids[s.Name] = s.ID
	}
	require.Eventually(t, func() bool {
		n, err := r.svc.Waiting(ctx, ids["down"])
		return err == nil && n == 3
	}, 10*time.Second, 20*time.Millisecond)
	n, err := r.svc.Waiting(ctx, ids["up"])
	require.NoError(t, err)
	require.Zero(t, n)
	n, err = r.svc.Waiting(ctx, "not.a>token")
	require.NoError(t, err)
	require.Zero(t, n)
}

// A message whose only endpoint is saturated goes back to the engine with a
// delay (no write); the attempt, when made, is still the first.
func TestSaturatedEndpointNaks(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	refusals := 0
	r := newRig(t, 1, func(Attempt) (Outcome, bool) {
		mu.Lock()
		defer mu.Unlock()
		if refusals < 2 {
			refusals++
			return Outcome{}, false
		}
		return Outcome{Delivered: true}, true
	})
	tp := r.topic("t", topic.FilterTag, topic.Subscription{Name: "s", Endpoint: "http://e"})
	_, err := r.pub.Publish(context.Background(), tp, []topic.Message{{Body: []byte("x")}})
	require.NoError(t, err)
	require.Equal(t, 1, r.next().Number)
	require.Empty(t, r.sched.at, "nothing written to the retry stream")
	r.waitAcked(topic.MessageStream, fanoutConsumer)
}

// When one of several endpoints is saturated, its attempt is deferred
// through the retry stream while the others go ahead; and an attempt the
// sender hands back as deferred (a stalled endpoint) is rescheduled without
// counting.
func TestPartlySaturatedFanOutDefers(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]int{}
	r := newRig(t, 1, func(a Attempt) (Outcome, bool) {
		mu.Lock()
		defer mu.Unlock()
		seen[a.Sub.Name]++
		switch {
		case a.Sub.Name == "busy" && seen["busy"] == 1:
			return Outcome{}, false
		case a.Sub.Name == "stalled" && seen["stalled"] == 1:
			return Outcome{Err: ErrDeferred}, true
		}
		return Outcome{Delivered: true}, true
	})
	tp := r.topic("t", topic.FilterTag,
		topic.Subscription{Name: "busy", Endpoint: "http://busy"},
		topic.Subscription{Name: "ok", Endpoint: "http://ok"},
		topic.Subscription{Name: "stalled", Endpoint: "http://stalled"})
	_, err := r.pub.Publish(context.Background(), tp, []topic.Message{{Body: []byte("x")}})
	require.NoError(t, err)
	got := map[string][]int{}
	for range 4 { // ok, stalled (deferred), then busy and stalled again
		a := r.next()
		got[a.Sub.Name] = append(got[a.Sub.Name], a.Number)
	}
	require.Equal(t, map[string][]int{"busy": {1}, "ok": {1}, "stalled": {1, 1}}, got)
	require.Equal(t, r.clk.Now().Add(50*time.Millisecond), recv(t, r.sched.at))
	require.Equal(t, r.clk.Now().Add(50*time.Millisecond), recv(t, r.sched.at))
	r.waitAcked(RetryStream, retryConsumer)
	r.waitAcked(topic.MessageStream, fanoutConsumer)
}

// Retries of a subscription that is gone are dropped.
func TestUnsubscribedRetriesDropped(t *testing.T) {
	t.Parallel()
	r := newRig(t, 0.1, func(Attempt) (Outcome, bool) { return Outcome{Status: 503}, true })
	tp := r.topic("t", topic.FilterTag, topic.Subscription{Name: "s", Endpoint: "http://e"})
	_, err := r.pub.Publish(context.Background(), tp, []topic.Message{{Body: []byte("x")}})
	require.NoError(t, err)
	require.Equal(t, 1, r.next().Number)
	recv(t, r.sched.at)
	require.NoError(t, r.store.Unsubscribe(context.Background(), 1, "t", "s"))
	r.retriesSettled() // the retry came due and was dropped
	s, err := r.eng.JS.Stream(context.Background(), RetryStream)
	require.NoError(t, err)
	info, err := s.Info(context.Background())
	require.NoError(t, err)
	require.Zero(t, info.State.Msgs)
}

// 10,000 subscriptions on one node: one fan-out consumer and one retry
// consumer serve them all, and a publish reaches every one.
func TestTenThousandSubscriptions(t *testing.T) {
	t.Parallel()
	const n = 10000
	r := newRig(t, 1, ok)
	ctx := context.Background()
	tp, err := r.store.CreateTopic(ctx, topic.Topic{AppID: 1, Name: "big", MaxMsgSize: 65536, FilterType: topic.FilterTag})
	require.NoError(t, err)
	for i := range n {
		_, err := r.store.Subscribe(ctx, topic.Subscription{
			AppID: 1, TopicName: "big", Name: fmt.Sprintf("s%05d", i), Protocol: topic.ProtocolHTTP,
			Endpoint: fmt.Sprintf("http://e%d.example/hook", i), NotifyStrategy: topic.ExponentialDecayRetry,
		}, n)
		require.NoError(t, err)
	}
	_, err = r.pub.Publish(ctx, tp, []topic.Message{{Body: []byte("to all")}})
	require.NoError(t, err)
	seen := map[string]bool{}
	for range n {
		seen[r.next().Sub.Name] = true
	}
	require.Len(t, seen, n)
	r.waitAcked(topic.MessageStream, fanoutConsumer)
	stream, err := r.eng.JS.Stream(ctx, topic.MessageStream)
	require.NoError(t, err)
	info, err := stream.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, info.State.Consumers, "no consumer per subscription")
}

// A message published by a process whose index knew subscriptions this one
// has not applied yet waits for them instead of being fanned out to fewer.
func TestFanOutWaitsForThePublishersIndex(t *testing.T) {
	t.Parallel()
	r := newRig(t, 1, ok)
	tp := r.topic("t", topic.FilterTag, topic.Subscription{Name: "s", Endpoint: "http://e"})
	ctx := context.Background()
	// As if published by a process that has seen one more subscription.
	topicRev, subRev := r.store.Revisions()
	waiting := make(chan uint64, 10)
	r.svc.deps.Subs = signalWait{Store: r.store, waiting: waiting}
	m := nats.NewMsg(topic.Subject(tp.AppID, tp.Name))
	m.Header.Set(topic.HeaderMsgID, "FUTURE")
	m.Header.Set(topic.HeaderIndexRev, fmt.Sprintf("%d.%d", topicRev, subRev+1))
	m.Data = []byte("x")
	_, err := r.eng.JS.PublishMsg(ctx, m)
	require.NoError(t, err)
	// The fan-out waits for the subscription revision it was published at,
	// having pushed nothing.
	require.Equal(t, subRev+1, recv(t, waiting))
	require.Empty(t, r.sender.got)
	// The subscription it knew of arrives: now both get it.
	_, err = r.store.Subscribe(ctx, topic.Subscription{AppID: 1, TopicName: "t", Name: "late", Protocol: topic.ProtocolHTTP,
		Endpoint: "http://late", NotifyStrategy: topic.ExponentialDecayRetry}, 100)
	require.NoError(t, err)
	got := map[string]bool{}
	for range 2 {
		a := r.next()
		require.Equal(t, "FUTURE", a.MsgID)
		got[a.Sub.Name] = true
	}
	require.Equal(t, map[string]bool{"s": true, "late": true}, got)
}

// TestUnknownStoredStrategyGivesUp: a subscription whose stored
// notifyStrategy the policies do not know (written by something other than
// the API) is given up after its first failed attempt, with
// retry.ErrUnknownStrategy as the reason, instead of being retried under
// some default.
func TestUnknownStoredStrategyGivesUp(t *testing.T) {
	t.Parallel()
	reasons := make(chan error, 10)
	r := newRig(t, 0.01, func(Attempt) (Outcome, bool) { return Outcome{Status: 500}, true })
	r.svc.deps.Record = reasonRecorder{reasons}
	tp := r.topic("t", topic.FilterTag, topic.Subscription{Name: "s", Endpoint: "http://e", NotifyStrategy: "LINEAR_RETRY"})
	_, err := r.pub.Publish(context.Background(), tp, []topic.Message{{Body: []byte("x")}})
	require.NoError(t, err)
	require.Equal(t, 1, r.next().Number)
	reason := recv(t, reasons)
	require.ErrorIs(t, reason, retry.ErrUnknownStrategy)
	require.ErrorContains(t, reason, `"LINEAR_RETRY"`)
	require.ErrorContains(t, reason, "HTTP 500")
	r.waitAcked(topic.MessageStream, fanoutConsumer)
	require.Empty(t, r.sched.at, "no retry scheduled")
	require.Empty(t, r.sender.got, "no second attempt")
}

type reasonRecorder struct{ got chan error }

func (g reasonRecorder) GaveUp(_ context.Context, _ *topic.Subscription, _ string, reason error) {
	g.got <- reason
}

func (g reasonRecorder) SignatureRejected(context.Context, *topic.Subscription) {}

// signalWait tells, on waiting, the subscription revision the fan-out
// starts to wait for whenever it waits for its index.
type signalWait struct {
	*topic.Store
	waiting chan uint64
}

func (s signalWait) WaitRevisions(ctx context.Context, topics, subs uint64) error {
	if _, ok := ctx.Deadline(); ok {
		select {
		case s.waiting <- subs:
		default:
		}
	}
	return s.Store.WaitRevisions(ctx, topics, subs)
}
