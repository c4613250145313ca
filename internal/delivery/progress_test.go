package delivery

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/engine/workqueue"
	"github.com/herald-mq/herald/internal/topic"
)

// heldSender delivers at once to every endpoint but "http://slow", whose
// attempts it holds until the test answers them.
type heldSender struct {
	mu   sync.Mutex
	held []func(Outcome)
	got  chan Attempt
}

func newHeldSender() *heldSender { return &heldSender{got: make(chan Attempt, 100)} }

func (h *heldSender) TrySend(a Attempt, done func(Outcome)) bool {
	h.got <- a
	if a.Sub.Endpoint != "http://slow" {
		go done(Outcome{Delivered: true, Status: 200})
		return true
	}
	h.mu.Lock()
	h.held = append(h.held, done)
	h.mu.Unlock()
	return true
}

// answer ends every held attempt with o.
func (h *heldSender) answer(o Outcome) {
	h.mu.Lock()
	held := h.held
	h.held = nil
	h.mu.Unlock()
	for _, done := range held {
		done(o)
	}
}

func (h *heldSender) next(t *testing.T) Attempt {
	t.Helper()
	return recv(t, h.got)
}

// noMore asserts no attempt waits to be taken. Call it once the engine has
// settled (consumers idle, no retry records): nothing can make another
// attempt then, so this is a signal, not a time window.
func (h *heldSender) noMore(t *testing.T) {
	t.Helper()
	require.Empty(t, h.got, "no other attempt")
}

// progressTopic is a topic with two quick subscriptions and a slow one; it
// publishes one message and waits until the quick ones have it and the slow
// one's attempt runs. It returns the slow subscription's id.
func (r *rig) progressTopic(h *heldSender) string {
	r.t.Helper()
	tp := r.topic("t", topic.FilterTag,
		topic.Subscription{Name: "quick1", Endpoint: "http://quick/1"},
		topic.Subscription{Name: "quick2", Endpoint: "http://quick/2"},
		topic.Subscription{Name: "slow", Endpoint: "http://slow"})
	_, err := r.pub.Publish(context.Background(), tp, []topic.Message{{Body: []byte("x")}})
	require.NoError(r.t, err)
	for range 3 {
		h.next(r.t)
	}
	require.Eventually(r.t, func() bool { return r.endedAttempts() == 2 }, 10*time.Second, 5*time.Millisecond)
	for _, s := range r.store.Subscriptions(1, "t") {
		if s.Name == "slow" {
			return s.ID
		}
	}
	r.t.Fatal("no slow subscription")
	return ""
}

// tick advances the fake clock by d once the lease loop waits for it, and
// returns once the loop has tended every group and waits again.
func (r *rig) tick(d time.Duration) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.True(r.t, r.clk.WaitForTimers(1, ctx.Done()))
	r.clk.Advance(d)
	require.True(r.t, r.clk.WaitForTimers(1, ctx.Done()))
}

// endedAttempts counts the ended attempts of the groups in flight.
func (r *rig) endedAttempts() int {
	n := 0
	for _, g := range r.svc.liveGroups() {
		g.mu.Lock()
		n += len(g.tickets) - g.left
		g.mu.Unlock()
	}
	return n
}

// retryRecords returns the subjects of the records in the retry stream.
func (r *rig) retryRecords() []string {
	r.t.Helper()
	s, err := r.eng.JS.Stream(context.Background(), RetryStream)
	require.NoError(r.t, err)
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(">"))
	require.NoError(r.t, err)
	var subjects []string
	for subj, n := range info.State.Subjects {
		for range n {
			subjects = append(subjects, subj)
		}
	}
	return subjects
}

// consumerIdle reports whether the consumer has nothing pending or
// unacknowledged.
func (r *rig) consumerIdle(stream, consumer string) bool {
	c, err := r.eng.JS.Consumer(context.Background(), stream, consumer)
	require.NoError(r.t, err)
	info, err := c.Info(context.Background())
	require.NoError(r.t, err)
	return info.NumAckPending == 0 && info.NumPending == 0
}

// Once the quick attempts have ended LeaseAfter ago, the slow one gets a
// lease and the message is acknowledged; when the slow attempt succeeds its
// lease is deleted. Within LeaseAfter nothing is written.
func TestSlowAttemptGetsALeaseAndReleasesTheMessage(t *testing.T) {
	t.Parallel()
	h := newHeldSender()
	r := newRigWith(t, 1, h, nil)
	slowID := r.progressTopic(h)

	r.tick(r.svc.cfg.LeaseAfter - time.Millisecond)
	require.Empty(t, r.retryRecords(), "a lease before LeaseAfter")
	require.False(t, r.consumerIdle(topic.MessageStream, fanoutConsumer), "the message is held")

	r.tick(r.svc.cfg.LeaseAfter / 2)
	require.Eventually(t, func() bool { return r.consumerIdle(topic.MessageStream, fanoutConsumer) }, 10*time.Second, 10*time.Millisecond,
		"the message acknowledged while the slow attempt runs")
	subjects := r.retryRecords()
	require.Len(t, subjects, 1)
	require.True(t, strings.HasPrefix(subjects[0], schedulePrefix+slowID+".lease."), subjects[0])
	n, err := r.svc.Waiting(t.Context(), slowID)
	require.NoError(t, err)
	require.Equal(t, int64(1), n, "the leased message counts in the slow subscription's msgCount")

	h.answer(Outcome{Delivered: true, Status: 200})
	require.Eventually(t, func() bool { return len(r.retryRecords()) == 0 }, 10*time.Second, 10*time.Millisecond,
		"the lease deleted")
	require.Eventually(t, func() bool { return len(r.svc.liveGroups()) == 0 }, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		return r.consumerIdle(topic.MessageStream, fanoutConsumer) && r.consumerIdle(RetryStream, retryConsumer)
	}, 10*time.Second, 10*time.Millisecond)
	h.noMore(t)
}

// A leased attempt that fails turns its lease into its retry: one record,
// due at the policy's time, and the next attempt is numbered 2.
func TestFailedLeasedAttemptRetriesThroughItsLease(t *testing.T) {
	t.Parallel()
	h := newHeldSender()
	r := newRigWith(t, 0.01, h, nil)
	r.progressTopic(h)
	r.tick(r.svc.cfg.LeaseAfter)
	require.Eventually(t, func() bool { return r.consumerIdle(topic.MessageStream, fanoutConsumer) }, 10*time.Second, 10*time.Millisecond)

	h.answer(Outcome{Status: 503})
	a := h.next(t)
	require.Equal(t, "slow", a.Sub.Name)
	require.Equal(t, 2, a.Number)
	h.answer(Outcome{Delivered: true, Status: 200})
	require.Eventually(t, func() bool {
		return len(r.retryRecords()) == 0 && r.consumerIdle(RetryStream, retryConsumer) &&
			r.consumerIdle(topic.MessageStream, fanoutConsumer)
	}, 10*time.Second, 10*time.Millisecond)
	h.noMore(t)
}

// A lease its process no longer renews (the process is gone) comes due
// after AckWait, and only the attempt it stands for is made again: the
// quick subscriptions are not pushed the message a second time.
func TestUnrenewedLeaseRepeatsOnlyItsAttempt(t *testing.T) {
	t.Parallel()
	h := newHeldSender()
	r := newRigWith(t, 1, h, func(c *Config) { c.AckWait = time.Second })
	r.progressTopic(h)
	r.tick(r.svc.cfg.LeaseAfter)
	// The fake clock stands still from here: the lease is never renewed.
	a := h.next(t)
	require.Equal(t, "slow", a.Sub.Name)
	require.Equal(t, 1, a.Number, "the attempt that was running, made again")
	h.answer(Outcome{Delivered: true, Status: 200})
	require.Eventually(t, func() bool {
		return len(r.retryRecords()) == 0 && r.consumerIdle(RetryStream, retryConsumer) &&
			r.consumerIdle(topic.MessageStream, fanoutConsumer)
	}, 10*time.Second, 10*time.Millisecond)
	h.noMore(t) // the quick subscriptions were not pushed it again
}

// A graceful stop hands the running attempt back as a record due at once,
// leased or not, and acknowledges the message: the next process pushes it
// to the slow subscription only, without waiting for the AckWait.
func TestStopHandsBackOnlyTheRunningAttempt(t *testing.T) {
	t.Parallel()
	for _, leased := range []bool{false, true} {
		t.Run(map[bool]string{false: "unleased", true: "leased"}[leased], func(t *testing.T) {
			t.Parallel()
			h := newHeldSender()
			r := newRigWith(t, 1, h, nil)
			slowID := r.progressTopic(h)
			if leased {
				r.tick(r.svc.cfg.LeaseAfter)
				require.Eventually(t, func() bool { return len(r.retryRecords()) == 1 }, 10*time.Second, 10*time.Millisecond)
			}

			stopped := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				stopped <- r.svc.Stop(ctx)
			}()
			require.Eventually(t, func() bool { return r.svc.closing.Load() }, 10*time.Second, time.Millisecond)
			h.answer(Outcome{Err: ErrHandBack}) // as the push dispatcher does when it stops
			require.NoError(t, recv(t, stopped))
			require.True(t, r.consumerIdle(topic.MessageStream, fanoutConsumer), "the message acknowledged")
			subjects := r.retryRecords()
			require.Len(t, subjects, 1)
			require.Contains(t, subjects[0], slowID)

			// The next process: the slow subscription's attempt at once, the
			// others nothing. Its clock is not advanced: nothing waits.
			next := newHeldSender()
			svc := r.service(1, next, nil)
			require.NoError(t, svc.Start(context.Background()))
			a := next.next(t)
			require.Equal(t, "slow", a.Sub.Name)
			require.Equal(t, 1, a.Number, "a hand-back does not count as an attempt")
			next.answer(Outcome{Delivered: true, Status: 200})
			require.Eventually(t, func() bool { return len(r.retryRecords()) == 0 }, 10*time.Second, 10*time.Millisecond,
				"records left: %v", r.retryRecords())
			require.Eventually(t, func() bool {
				return r.consumerIdle(RetryStream, retryConsumer) && r.consumerIdle(topic.MessageStream, fanoutConsumer)
			}, 10*time.Second, 10*time.Millisecond)
			next.noMore(t)
		})
	}
}

// redelivery is a topic message as the engine offers it again: its
// delivery count is 2, and the test sees whether it was acknowledged.
type redelivery struct {
	jetstream.Msg // not called: the methods used are below
	stored        *jetstream.RawStreamMsg
	acked         chan struct{}
	once          sync.Once
}

func (m *redelivery) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{
		Sequence:     jetstream.SequencePair{Stream: m.stored.Sequence, Consumer: 2},
		NumDelivered: 2, Timestamp: m.stored.Time, Stream: topic.MessageStream, Consumer: fanoutConsumer,
	}, nil
}
func (m *redelivery) Data() []byte         { return m.stored.Data }
func (m *redelivery) Headers() nats.Header { return m.stored.Header }
func (m *redelivery) Subject() string      { return m.stored.Subject }
func (m *redelivery) Ack() error {
	m.once.Do(func() { close(m.acked) })
	return nil
}
func (m *redelivery) DoubleAck(context.Context) error  { return m.Ack() }
func (m *redelivery) Reply() string                    { return "" }
func (m *redelivery) InProgress() error                { return nil }
func (m *redelivery) NakWithDelay(time.Duration) error { return nil }

// redeliver offers the last topic message to the service again.
func (r *rig) redeliver() *redelivery {
	r.t.Helper()
	s, err := r.eng.JS.Stream(context.Background(), topic.MessageStream)
	require.NoError(r.t, err)
	stored, err := s.GetMsg(context.Background(), s.CachedInfo().State.LastSeq)
	require.NoError(r.t, err)
	m := &redelivery{stored: stored, acked: make(chan struct{})}
	go r.svc.handleMessage(workqueue.Wrap(m, workqueue.Delivery{
		StreamSeq: stored.Sequence, ConsumerSeq: 2, Delivered: 2, Stored: stored.Time,
	}))
	return m
}

// An acknowledgement lost after the message was released (a kill -9 within
// the engine's write delay) brings the message back: its leases show that
// its attempts are accounted for, so it is acknowledged, and no
// subscription is pushed it again (the slow one gets it from its lease).
// Before it was released, a message that comes back is attempted again.
func TestRedeliveredMessageRepeatsNothingOnceReleased(t *testing.T) {
	t.Parallel()
	t.Run("released", func(t *testing.T) {
		t.Parallel()
		h := newHeldSender()
		r := newRigWith(t, 1, h, nil)
		r.progressTopic(h)
		r.tick(r.svc.cfg.LeaseAfter)
		require.Eventually(t, func() bool { return r.consumerIdle(topic.MessageStream, fanoutConsumer) }, 10*time.Second, 10*time.Millisecond)

		m := r.redeliver()
		recv(t, m.acked) // acknowledged without an attempt: the handler has returned
		h.noMore(t)
		require.Len(t, r.retryRecords(), 1, "the slow subscription's lease")
		h.answer(Outcome{Delivered: true, Status: 200})
	})
	t.Run("not released", func(t *testing.T) {
		t.Parallel()
		h := newHeldSender()
		r := newRigWith(t, 1, h, nil)
		r.progressTopic(h)

		r.redeliver()
		got := map[string]int{}
		for range 3 {
			got[h.next(t).Sub.Name]++
		}
		require.Equal(t, map[string]int{"quick1": 1, "quick2": 1, "slow": 1}, got)
		h.answer(Outcome{Delivered: true, Status: 200})
	})
}
