package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/lifecycle"
)

// journal records the services' starts and stops in order.
type journal struct {
	mu  sync.Mutex
	got []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.got = append(j.got, s)
}

func (j *journal) lines() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.got...)
}

func (j *journal) service(name string, startErr error) lifecycle.Named {
	return lifecycle.Named{Name: name, Service: lifecycle.Funcs{
		StartFunc: func(context.Context) error { j.add("start " + name); return startErr },
		StopFunc:  func(context.Context) error { j.add("stop " + name); return nil },
	}}
}

var discard = slog.New(slog.DiscardHandler)

// TestServeStopsInReverseWhenContextEnds: every service started in order,
// the ready line printed, and on ctx's end every one stopped in reverse.
func TestServeStopsInReverseWhenContextEnds(t *testing.T) {
	t.Parallel()
	j := &journal{}
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	ready := lifecycle.Named{Name: "ready", Service: lifecycle.Funcs{
		StartFunc: func(context.Context) error { j.add("start ready"); return nil },
		StopFunc:  func(context.Context) error { j.add("stop ready"); return nil },
	}}
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, &out, discard, nil, j.service("engine users", nil), j.service("delivery", nil), ready)
	}()
	require.Eventually(t, func() bool { return len(j.lines()) == 3 }, 10*time.Second, 5*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	require.Equal(t, ReadyLine+"\n", out.String())
	require.Equal(t, []string{"start engine users", "start delivery", "start ready", "stop ready", "stop delivery", "stop engine users"}, j.lines())
}

// TestServeLaterStartFails: the third service fails to start; the two
// started are stopped in reverse, herald never says ready, and the error
// names the service.
func TestServeLaterStartFails(t *testing.T) {
	t.Parallel()
	j := &journal{}
	var out bytes.Buffer
	boom := errors.New("address in use")
	err := serve(context.Background(), &out, discard, nil, j.service("queues", nil), j.service("delivery", nil), j.service("mqtt", boom), j.service("http", nil))
	require.ErrorIs(t, err, boom)
	require.ErrorContains(t, err, "start mqtt")
	require.Empty(t, out.String())
	require.Equal(t, []string{"start queues", "start delivery", "start mqtt", "stop delivery", "stop queues"}, j.lines())
}

// TestServeRunningServiceFails: a service that stops by itself (the HTTP
// server's Serve returning) stops the others and is Run's error.
func TestServeRunningServiceFails(t *testing.T) {
	t.Parallel()
	j := &journal{}
	failed := make(chan error, 1)
	failed <- errors.New("http server: accept failed")
	err := serve(context.Background(), &bytes.Buffer{}, discard, failed, j.service("queues", nil), j.service("http", nil))
	require.ErrorContains(t, err, "accept failed")
	require.Equal(t, []string{"start queues", "start http", "stop http", "stop queues"}, j.lines())
}

// TestServeSignalDuringStart: ctx ending while a service starts (SIGTERM
// during start-up) stops what started and is no error (exit 0).
func TestServeSignalDuringStart(t *testing.T) {
	t.Parallel()
	j := &journal{}
	ctx, cancel := context.WithCancel(context.Background())
	signaled := lifecycle.Named{Name: "slow", Service: lifecycle.Funcs{
		StartFunc: func(ctx context.Context) error { j.add("start slow"); cancel(); <-ctx.Done(); return ctx.Err() },
	}}
	err := serve(ctx, &bytes.Buffer{}, discard, nil, j.service("queues", nil), signaled, j.service("http", nil))
	require.NoError(t, err)
	require.Equal(t, []string{"start queues", "start slow", "stop queues"}, j.lines())
}
