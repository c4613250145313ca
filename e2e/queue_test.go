package e2e

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/client"
)

// A protocol=queue subscription delivers topic messages into the queue,
// through the binary, with the topic's msgId.
func TestTopicIntoQueue(t *testing.T) {
	t.Parallel()
	n := start(t, t.TempDir(), nil)
	ctx := context.Background()
	c := n.Client
	_, err := c.CreateQueue(ctx, client.CreateQueueRequest{QueueName: "inbox"})
	require.NoError(t, err)
	_, err = c.CreateTopic(ctx, client.CreateTopicRequest{TopicName: "events"})
	require.NoError(t, err)
	_, err = c.Subscribe(ctx, client.SubscribeRequest{TopicName: "events", SubscriptionName: "toq", Protocol: "queue", Endpoint: "inbox", NotifyContentFormat: "SIMPLIFIED"})
	require.NoError(t, err)
	pub, err := c.PublishMessage(ctx, client.PublishMessageRequest{TopicName: "events", MsgBody: "hello queue"})
	require.NoError(t, err)
	got, err := c.ReceiveMessage(ctx, client.ReceiveMessageRequest{QueueName: "inbox", PollingWaitSeconds: new(10)})
	require.NoError(t, err)
	require.Equal(t, "hello queue", got.MsgBody)
	require.Equal(t, pub.MsgID, got.MsgID)
	require.Equal(t, int64(1), got.DequeueCount)
	_, err = c.DeleteMessage(ctx, client.DeleteMessageRequest{QueueName: "inbox", ReceiptHandle: got.ReceiptHandle})
	require.NoError(t, err)
	_, err = c.ReceiveMessage(ctx, client.ReceiveMessageRequest{QueueName: "inbox", PollingWaitSeconds: new(0)})
	require.ErrorIs(t, err, client.ErrNoMessage)
}

// kill -9 while senders and consumers run: after a restart every
// acknowledged send is received (at least once: a message received but not
// yet deleted when the process died comes back).
func TestQueueKillNineLosesNoAcknowledgedSend(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := start(t, dir, nil)
	ctx := context.Background()
	_, err := n.Client.CreateQueue(ctx, client.CreateQueueRequest{QueueName: "work", VisibilityTimeout: new(1)})
	require.NoError(t, err)

	var mu sync.Mutex
	acked := map[string]bool{}
	seen := map[string]bool{}
	killAt := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() { // sender
			defer wg.Done()
			for i := 0; ; i++ {
				bodies := make([]string, 16)
				for j := range bodies {
					bodies[j] = fmt.Sprintf("w%d-%d-%d", w, i, j)
				}
				if _, err := n.Client.BatchSendMessage(ctx, client.BatchSendMessageRequest{QueueName: "work", MsgBodies: bodies}); err != nil {
					return
				}
				mu.Lock()
				for _, b := range bodies {
					acked[b] = true
				}
				total := len(acked)
				mu.Unlock()
				if total >= 1500 {
					once.Do(func() { close(killAt) })
				}
			}
		}()
	}
	consume := func(c *client.Client, stopOnEmpty bool) error {
		for {
			res, err := c.BatchReceiveMessage(ctx, client.BatchReceiveMessageRequest{QueueName: "work", NumOfMsg: 16, PollingWaitSeconds: new(2)})
			if errors.Is(err, client.ErrNoMessage) {
				if stopOnEmpty {
					return nil
				}
				continue
			}
			if err != nil {
				return err
			}
			handles := make([]string, 0, len(res.MsgInfoList))
			mu.Lock()
			for _, m := range res.MsgInfoList {
				seen[m.MsgBody] = true
				handles = append(handles, m.ReceiptHandle)
			}
			mu.Unlock()
			_, _ = c.BatchDeleteMessage(ctx, client.BatchDeleteMessageRequest{QueueName: "work", ReceiptHandles: handles})
		}
	}
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); _ = consume(n.Client, false) }()
	}
	<-killAt
	n.kill()
	wg.Wait()

	n2 := start(t, dir, nil)
	// Drain until two long polls in a row find nothing: by then every
	// invisible message has come back (visibility timeout 1 s).
	for empty := 0; empty < 2; {
		mu.Lock()
		before := len(seen)
		mu.Unlock()
		require.NoError(t, consume(n2.Client, true))
		mu.Lock()
		if len(seen) == before {
			empty++
		} else {
			empty = 0
		}
		mu.Unlock()
	}
	mu.Lock()
	defer mu.Unlock()
	var missing []string
	for b := range acked {
		if !seen[b] {
			missing = append(missing, b)
		}
	}
	require.Empty(t, missing, "%d of %d acknowledged sends never received", len(missing), len(acked))
	require.GreaterOrEqual(t, len(acked), 1500)
}
