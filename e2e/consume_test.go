package e2e

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/client"
)

// client.Consume against the real server: every message is handled, one
// whose handler failed comes back after its visibility timeout and is
// handled again, handled messages are deleted, and a stop lets the handler
// under way finish and delete its message.
func TestClientConsume(t *testing.T) {
	t.Parallel()
	n := start(t, t.TempDir(), nil)
	ctx := context.Background()
	c := n.Client
	_, err := c.CreateQueue(ctx, client.CreateQueueRequest{QueueName: "jobs", VisibilityTimeout: new(1)})
	require.NoError(t, err)
	want := map[string]bool{}
	for i := range 40 {
		body := fmt.Sprintf("job-%02d", i)
		want[body] = true
		_, err := c.SendMessage(ctx, client.SendMessageRequest{QueueName: "jobs", MsgBody: body})
		require.NoError(t, err)
	}

	var mu sync.Mutex
	handled := map[string]int{}
	failedOnce := false
	allDone := make(chan struct{})
	consumeCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() {
		done <- c.Consume(consumeCtx, client.ConsumeConfig{QueueName: "jobs", Concurrency: 4, PollingWaitSeconds: 1},
			func(_ context.Context, m client.Message) error {
				mu.Lock()
				defer mu.Unlock()
				if m.MsgBody == "job-07" && !failedOnce {
					failedOnce = true
					return errors.New("not now")
				}
				handled[m.MsgBody]++
				if len(handled) == len(want) {
					close(allDone)
				}
				return nil
			})
	}()
	select {
	case <-allDone:
	case <-time.After(30 * time.Second):
		t.Fatal("not every message was handled within 30 s")
	}
	mu.Lock()
	for body := range want {
		require.Equal(t, 1, handled[body], body)
	}
	mu.Unlock()

	// A slow handler is under way when the consumer stops: it finishes and
	// its message is deleted.
	stop()
	require.NoError(t, <-done)
	_, err = c.SendMessage(ctx, client.SendMessageRequest{QueueName: "jobs", MsgBody: "last"})
	require.NoError(t, err)
	slowCtx, stopSlow := context.WithCancel(ctx)
	started, finished := make(chan struct{}), make(chan struct{})
	done2 := make(chan error, 1)
	go func() {
		done2 <- c.Consume(slowCtx, client.ConsumeConfig{QueueName: "jobs", PollingWaitSeconds: 1},
			func(ctx context.Context, m client.Message) error {
				close(started)
				stopSlow()
				select { // the consumer has been told to stop; the handler still has its time
				case <-time.After(300 * time.Millisecond):
				case <-ctx.Done():
					return ctx.Err()
				}
				close(finished)
				return nil
			})
	}()
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("the second consumer never received the last message")
	}
	require.NoError(t, <-done2)
	select {
	case <-finished:
	default:
		t.Fatal("Consume returned before its handler finished")
	}
	attrs, err := c.GetQueueAttributes(ctx, client.GetQueueAttributesRequest{QueueName: "jobs"})
	require.NoError(t, err)
	require.Zero(t, attrs.ActiveMsgNum+attrs.InactiveMsgNum, "every handled message was deleted")

	err = c.Consume(ctx, client.ConsumeConfig{QueueName: "nope"}, func(context.Context, client.Message) error { return nil })
	require.ErrorIs(t, err, client.ErrQueueNotExist)
}
