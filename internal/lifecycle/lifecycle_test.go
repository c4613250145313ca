package lifecycle_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/herald-mq/herald/internal/lifecycle"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// journal records starts and stops in order.
type journal struct {
	mu  sync.Mutex
	got []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.got = append(j.got, s)
}

func (j *journal) service(name string, startErr, stopErr error) lifecycle.Named {
	return lifecycle.Named{Name: name, Service: lifecycle.Funcs{
		StartFunc: func(context.Context) error { j.add("start " + name); return startErr },
		StopFunc:  func(context.Context) error { j.add("stop " + name); return stopErr },
	}}
}

func stopCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), time.Second)
}

var log = slog.New(slog.DiscardHandler)

func TestStartsInOrderStopsInReverse(t *testing.T) {
	t.Parallel()
	j := &journal{}
	r, err := lifecycle.Start(context.Background(), stopCtx, log, j.service("a", nil, nil), j.service("b", nil, nil), j.service("c", nil, nil))
	require.NoError(t, err)
	require.NoError(t, r.Stop(context.Background()))
	require.Equal(t, []string{"start a", "start b", "start c", "stop c", "stop b", "stop a"}, j.got)
}

// TestFailedStartStopsTheEarlierOnes: the third service fails to start; the
// two started are stopped, last first, and the third is never stopped.
func TestFailedStartStopsTheEarlierOnes(t *testing.T) {
	t.Parallel()
	j := &journal{}
	boom := errors.New("boom")
	_, err := lifecycle.Start(context.Background(), stopCtx, log,
		j.service("a", nil, nil), j.service("b", nil, nil), j.service("c", boom, nil), j.service("d", nil, nil))
	require.ErrorIs(t, err, boom)
	require.ErrorContains(t, err, "start c: boom")
	require.Equal(t, []string{"start a", "start b", "start c", "stop b", "stop a"}, j.got)
}

// TestEndedContextStartsNothingMore: a ctx that ends between two starts
// refuses the rest.
func TestEndedContextStartsNothingMore(t *testing.T) {
	t.Parallel()
	j := &journal{}
	ctx, cancel := context.WithCancel(context.Background())
	canceling := lifecycle.Named{Name: "cancel", Service: lifecycle.Funcs{
		StartFunc: func(context.Context) error { j.add("start cancel"); cancel(); return nil },
		StopFunc:  func(context.Context) error { j.add("stop cancel"); return nil },
	}}
	_, err := lifecycle.Start(ctx, stopCtx, log, j.service("a", nil, nil), canceling, j.service("b", nil, nil))
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, []string{"start a", "start cancel", "stop cancel", "stop a"}, j.got)
}

// TestStopAsksEveryServiceAndJoinsErrors: a failed stop does not keep the
// earlier services running.
func TestStopAsksEveryServiceAndJoinsErrors(t *testing.T) {
	t.Parallel()
	j := &journal{}
	e1, e2 := errors.New("e1"), errors.New("e2")
	r, err := lifecycle.Start(context.Background(), stopCtx, log, j.service("a", nil, e1), j.service("b", nil, nil), j.service("c", nil, e2))
	require.NoError(t, err)
	err = r.Stop(context.Background())
	require.ErrorIs(t, err, e1)
	require.ErrorIs(t, err, e2)
	require.Equal(t, []string{"start a", "start b", "start c", "stop c", "stop b", "stop a"}, j.got)
}
