package engine

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
)

// A write the server failed for lack of space marks the disk full (the
// engine is not ready, errors are the storage error); once there is space
// again, the next check restarts JetStream, which keeps what was stored and
// takes writes again.
func TestFailedWriteMarksFullUntilJetStreamRestarts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// The test runs every check itself.
	e, err := Open(ctx, Config{DataDir: t.TempDir(), MinFreeBytes: 1, DiskCheckInterval: time.Hour}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	_, err = e.Stream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s"}})
	require.NoError(t, err)
	for range 5 {
		_, err := e.JS.Publish(ctx, "s", []byte("m"))
		require.NoError(t, err)
	}
	require.NoError(t, e.Ready(ctx))

	e.disk.serverError("Filestore [S] Critical write error: write /d/1.blk: no space left on device")
	require.True(t, e.Full())
	require.EqualError(t, e.Ready(ctx), "engine not ready: the disk is full")
	require.ErrorIs(t, e.Classify(context.DeadlineExceeded), ErrStorageFull)

	e.disk.check()
	require.False(t, e.Full())
	require.ErrorIs(t, e.Classify(context.DeadlineExceeded), ErrUnavailable)
	// The connection comes back after the forced reconnect.
	require.Eventually(t, func() bool { return e.Ready(ctx) == nil }, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		_, err := e.JS.Publish(ctx, "s", []byte("after"))
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)
	s, err := e.JS.Stream(ctx, "S")
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	require.GreaterOrEqual(t, info.State.Msgs, uint64(6), "what was stored before the restart is kept")
}

// Less free space than MinFreeBytes is a full disk.
func TestLowSpaceIsFull(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, err := Open(ctx, Config{DataDir: t.TempDir(), MinFreeBytes: 1 << 62, DiskCheckInterval: time.Hour}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	require.NoError(t, e.Ready(ctx))
	e.disk.check()
	require.True(t, e.Full())
	require.EqualError(t, e.Ready(ctx), "engine not ready: the disk is full")
}
