package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/engine"
	"github.com/herald-mq/herald/internal/engine/enginetest"
	"github.com/herald-mq/herald/internal/queue"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine.func1"))
}

const app = 1000000

// newService runs a queue service on eng until the test ends.
func newService(t testing.TB, eng *engine.Engine) *queue.Service {
	t.Helper()
	s, err := queue.New(context.Background(), queue.Config{}, queue.Deps{
		Engine: eng.WorkQueues(), KV: eng.Bucket, Log: enginetest.Logger(),
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Stop(context.Background())) })
	return s
}

func newQueue(t testing.TB, s *queue.Service, q queue.Queue) queue.Queue {
	t.Helper()
	q.AppID = app
	created, err := s.CreateQueue(context.Background(), q)
	require.NoError(t, err)
	return created
}

func send(t testing.TB, s *queue.Service, name string, bodies ...string) []string {
	t.Helper()
	bs := make([][]byte, len(bodies))
	for i, b := range bodies {
		bs[i] = []byte(b)
	}
	ids, err := s.Send(context.Background(), app, name, bs, 0)
	require.NoError(t, err)
	require.Len(t, ids, len(bodies))
	return ids
}

func receive(t testing.TB, s *queue.Service, name string, n int, wait time.Duration) []queue.Message {
	t.Helper()
	msgs, err := s.Receive(context.Background(), app, name, n, wait)
	require.NoError(t, err)
	return msgs
}

func bodies(msgs []queue.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m.Body)
	}
	return out
}

func TestSendReceiveDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newService(t, enginetest.New(t))
	newQueue(t, s, queue.Queue{Name: "orders"})
	ids := send(t, s, "orders", "a", "b", "c")
	require.Equal(t, []string{"1", "2", "3"}, ids)

	before := time.Now()
	msgs := receive(t, s, "ORDERS", 16, 0)
	require.Equal(t, []string{"a", "b", "c"}, bodies(msgs))
	for i, m := range msgs {
		require.Equal(t, ids[i], m.ID)
		require.Equal(t, 1, m.DequeueCount)
		require.Regexp(t, `^[A-Za-z0-9_-]+$`, m.Handle)
		require.WithinDuration(t, before.Add(30*time.Second), m.NextVisibleTime, 5*time.Second)
		require.WithinDuration(t, before, m.EnqueueTime, 5*time.Second)
		require.WithinDuration(t, before, m.FirstDequeueTime, 5*time.Second)
	}
	_, err := s.Receive(ctx, app, "orders", 1, 0)
	require.ErrorIs(t, err, queue.ErrNoMessage)

	_, st, err := s.Stats(ctx, app, "orders")
	require.NoError(t, err)
	require.Equal(t, queue.Stats{Inactive: 3, MinMsgTime: st.MinMsgTime}, st)
	require.False(t, st.MinMsgTime.IsZero())

	errs, err := s.Delete(ctx, app, "orders", []string{msgs[0].Handle, msgs[1].Handle, msgs[2].Handle})
	require.NoError(t, err)
	require.Equal(t, []error{nil, nil, nil}, errs)
	_, st, err = s.Stats(ctx, app, "orders")
	require.NoError(t, err)
	require.Equal(t, queue.Stats{Rewindable: 3}, st)
	queue.Purge(ctx, s)
	_, st, err = s.Stats(ctx, app, "orders")
	require.NoError(t, err)
	require.Equal(t, queue.Stats{}, st)
}

// TestEngineClockInjected: message times come from the injected engine
// clock, so they are exact in tests: a receive at engine time T makes the
// message visible again at T + visibilityTimeout, its handle deletes it
// while the clock stays before that, and a delay is scheduled from T.
func TestEngineClockInjected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	eng := enginetest.New(t)
	at := time.Now().Truncate(time.Second)
	clk := clock.NewFake(at)
	s, err := queue.New(ctx, queue.Config{}, queue.Deps{
		Engine: eng.WorkQueues(), KV: eng.Bucket, Clock: clk, EngineClock: clk, Log: enginetest.Logger(),
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Stop(ctx)) })
	newQueue(t, s, queue.Queue{Name: "q", VisibilityTimeout: 30})
	send(t, s, "q", "a")
	msgs := receive(t, s, "q", 1, 5*time.Second)
	require.Len(t, msgs, 1)
	require.Equal(t, at.Add(30*time.Second), msgs[0].NextVisibleTime)
	require.Equal(t, at, msgs[0].FirstDequeueTime)
	errs, err := s.Delete(ctx, app, "q", []string{msgs[0].Handle})
	require.NoError(t, err)
	require.Equal(t, []error{nil}, errs)

	// A process whose engine clock is an hour behind the engine's real time
	// schedules a 60-second delay in the engine's past: the message is due
	// at once.
	behind, err := queue.New(ctx, queue.Config{}, queue.Deps{
		Engine: eng.WorkQueues(), KV: eng.Bucket, EngineClock: clock.NewFake(at.Add(-time.Hour)), Log: enginetest.Logger(),
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, behind.Stop(ctx)) })
	_, err = behind.Send(ctx, app, "q", [][]byte{[]byte("delayed")}, time.Minute)
	require.NoError(t, err)
	require.Equal(t, []string{"delayed"}, bodies(receive(t, s, "q", 1, 10*time.Second)))
}
