package engine_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/herald-mq/herald/internal/engine"
	"github.com/herald-mq/herald/internal/engine/dirlock"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine.func1"))
}

func TestConfigDefaultsAndValidation(t *testing.T) {
	t.Parallel()
	c := engine.Config{}.WithDefaults()
	require.Equal(t, "./data", c.DataDir)
	require.Equal(t, 1, c.Replicas)
	require.Equal(t, 2*time.Minute, c.SyncInterval)
	require.Equal(t, 3, engine.Config{NatsURL: "nats://x"}.WithDefaults().Replicas)

	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	_, err := engine.Open(ctx, engine.Config{DataDir: t.TempDir(), Replicas: 3}, log)
	require.ErrorContains(t, err, "embedded server keeps one replica")
	_, err = engine.Open(ctx, engine.Config{NatsURL: "nats://x", Replicas: 9}, log)
	require.ErrorContains(t, err, "out of range")
}

// Streams and buckets made through the engine are file-backed at its replica
// count, and what is written survives closing and reopening the data dir.
func TestEmbeddedEngineKeepsWhatItStores(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	e, err := engine.Open(ctx, engine.Config{DataDir: dir, SyncAlways: true}, log)
	require.NoError(t, err)
	require.True(t, e.Embedded())
	require.Equal(t, 1, e.Replicas())
	s, err := e.Stream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}})
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, jetstream.FileStorage, info.Config.Storage)
	_, err = e.JS.Publish(ctx, "t.1", []byte("kept"))
	require.NoError(t, err)
	kv, err := e.KV(ctx, "b", 3)
	require.NoError(t, err)
	_, err = kv.Put(ctx, "k", []byte("v"))
	require.NoError(t, err)
	require.NoError(t, e.Close())

	e, err = engine.Open(ctx, engine.Config{DataDir: dir}, log)
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	s, err = e.JS.Stream(ctx, "T")
	require.NoError(t, err)
	m, err := s.GetMsg(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, "kept", string(m.Data))
	kv, err = e.KV(ctx, "b", 3)
	require.NoError(t, err)
	got, err := kv.Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, "v", string(got.Value()))
}

func TestExternalEngineUnreachable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := engine.Open(ctx, engine.Config{NatsURL: "nats://127.0.0.1:1", Replicas: 1}, slog.New(slog.DiscardHandler))
	require.ErrorContains(t, err, "engine: connect")
}

// One data directory, one engine: a second Open on it fails at once, and
// succeeds once the first is closed.
func TestDataDirHeldByOneEngine(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	first, err := engine.Open(ctx, engine.Config{DataDir: dir}, log)
	require.NoError(t, err)
	_, err = engine.Open(ctx, engine.Config{DataDir: dir}, log)
	require.ErrorIs(t, err, dirlock.ErrInUse)
	require.EqualError(t, err, "data directory "+dir+" is in use by process "+strconv.Itoa(os.Getpid()))
	require.NoError(t, first.Close())
	second, err := engine.Open(ctx, engine.Config{DataDir: dir}, log)
	require.NoError(t, err)
	require.NoError(t, second.Close())
}

// A store directory that cannot be created is reported as such, before the
// embedded server is started (which would wait for ever on it). Tests run
// as root, who may write a chmod 0500 directory: the store's path is taken
// by a regular file instead (ENOTDIR even for root).
func TestUnwritableStoreFailsAtOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "jetstream"), nil, 0o600))
	_, err := engine.Open(context.Background(), engine.Config{DataDir: dir}, slog.New(slog.DiscardHandler))
	require.ErrorIs(t, err, syscall.ENOTDIR)
	require.EqualError(t, err, "data directory "+dir+" is not writable: not a directory")
	// The directory is not left held.
	require.NoError(t, os.Remove(filepath.Join(dir, "jetstream")))
	e, err := engine.Open(context.Background(), engine.Config{DataDir: dir}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.NoError(t, e.Close())
}
