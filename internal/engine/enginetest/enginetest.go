// Package enginetest starts throw-away engines for tests: an embedded one,
// or a 3-node cluster of real nats-server processes (Cluster).
package enginetest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/herald-mq/herald/internal/engine"
)

// New opens an embedded engine in a temporary directory and closes it when
// the test ends.
func New(tb testing.TB) *engine.Engine {
	tb.Helper()
	return Open(tb, tb.TempDir())
}

// Open opens an embedded engine on dir; the test closes it when it ends.
func Open(tb testing.TB, dir string) *engine.Engine {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := engine.Open(ctx, engine.Config{DataDir: dir}, Logger())
	if err != nil {
		tb.Fatalf("engine: %v", err)
	}
	tb.Cleanup(func() { _ = e.Close() })
	return e
}

// OpenExternal opens an engine on an external JetStream cluster (a
// Cluster's URL) with replicas replicas; the test closes it when it ends.
func OpenExternal(tb testing.TB, url string, replicas int) *engine.Engine {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := engine.Open(ctx, engine.Config{NatsURL: url, Replicas: replicas}, Logger())
	if err != nil {
		tb.Fatalf("engine: %v", err)
	}
	tb.Cleanup(func() { _ = e.Close() })
	return e
}

// Logger discards everything; tests that want logs make their own.
func Logger() *slog.Logger { return slog.New(slog.DiscardHandler) }
