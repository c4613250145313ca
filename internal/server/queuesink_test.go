package server

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/delivery"
	"github.com/herald-mq/herald/internal/engine/enginetest"
	"github.com/herald-mq/herald/internal/queue"
)

// TestQueueSinkUndeliverable: a topic message for a missing queue, or too
// big for its queue, is undeliverable (given up at once); one that fits is
// stored.
func TestQueueSinkUndeliverable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	eng := enginetest.New(t)
	queues, err := queue.New(ctx, queue.Config{}, queue.Deps{Engine: eng.WorkQueues(), KV: eng.Bucket, Log: enginetest.Logger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = queues.Stop(ctx) })
	_, err = queues.CreateQueue(ctx, queue.Queue{AppID: 1, Name: "q", MaxMsgSize: 1024})
	require.NoError(t, err)
	sink := queueSink{queues}

	require.ErrorIs(t, sink.Enqueue(ctx, 1, "missing", []byte("x"), "m1"), delivery.ErrUndeliverable)
	require.ErrorIs(t, sink.Enqueue(ctx, 1, "q", make([]byte, 2048), "m2"), delivery.ErrUndeliverable)
	require.NoError(t, sink.Enqueue(ctx, 1, "q", []byte("fits"), "m3"))
}
