package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/client"
)

// kill -9 right after acknowledged deletes: after a restart no deleted
// message comes back, and every other message comes back with a
// dequeueCount above the one it was last received with. HERALD_E2E_TRIALS
// sets the number of kill trials (default 3); run 100 by hand.
func TestQueueKillNineKeepsDeletesAndDequeueCounts(t *testing.T) {
	t.Parallel()
	trials := 3
	if v := os.Getenv("HERALD_E2E_TRIALS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "HERALD_E2E_TRIALS")
		trials = n
	}
	const msgs = 64
	dir := t.TempDir()
	ctx := context.Background()
	n := start(t, dir, nil)
	var back, recount, deleted int
	for trial := range trials {
		name := fmt.Sprintf("kill%d", trial)
		_, err := n.Client.CreateQueue(ctx, client.CreateQueueRequest{QueueName: name, VisibilityTimeout: new(1)})
		require.NoError(t, err)
		for b := 0; b < msgs; b += 16 {
			bodies := make([]string, 16)
			for i := range bodies {
				bodies[i] = fmt.Sprintf("m%03d", b+i)
			}
			_, err := n.Client.BatchSendMessage(ctx, client.BatchSendMessageRequest{QueueName: name, MsgBodies: bodies})
			require.NoError(t, err)
		}
		// Receive everything twice (the second time after the visibility
		// timeout), then delete every other message of the second round and
		// kill herald as soon as the deletes are acknowledged.
		receiveAll(t, n.Client, name, msgs, 1)
		second := receiveAll(t, n.Client, name, msgs, 2)
		gone := map[string]bool{}
		var handles []string
		for body, m := range second {
			if len(gone) < msgs/2 {
				gone[body] = true
				handles = append(handles, m.ReceiptHandle)
			}
			if len(handles) == 16 || len(gone) == msgs/2 && len(handles) > 0 {
				_, err := n.Client.BatchDeleteMessage(ctx, client.BatchDeleteMessageRequest{QueueName: name, ReceiptHandles: handles})
				require.NoError(t, err)
				handles = handles[:0]
			}
		}
		n.kill()
		n = start(t, dir, nil)

		// Drain: every kept message comes back (visibility timeout 1 s), and
		// then a long poll finds nothing more.
		got := map[string]int64{}
		for {
			res, err := n.Client.BatchReceiveMessage(ctx, client.BatchReceiveMessageRequest{QueueName: name, NumOfMsg: 16, PollingWaitSeconds: new(2)})
			if errors.Is(err, client.ErrNoMessage) && len(got) >= msgs/2 {
				break
			}
			if errors.Is(err, client.ErrNoMessage) {
				continue
			}
			require.NoError(t, err)
			var hs []string
			for _, m := range res.MsgInfoList {
				if c, ok := got[m.MsgBody]; !ok || m.DequeueCount < c {
					got[m.MsgBody] = m.DequeueCount
				}
				hs = append(hs, m.ReceiptHandle)
			}
			_, err = n.Client.BatchDeleteMessage(ctx, client.BatchDeleteMessageRequest{QueueName: name, ReceiptHandles: hs})
			require.NoError(t, err)
		}
		deleted += len(gone)
		for body, c := range got {
			if gone[body] {
				back++
				t.Logf("trial %d: deleted %s came back (dequeueCount %d)", trial, body, c)
				continue
			}
			if c <= second[body].DequeueCount {
				recount++
				t.Logf("trial %d: %s came back with dequeueCount %d after %d", trial, body, c, second[body].DequeueCount)
			}
		}
		for body := range second {
			if !gone[body] {
				require.Contains(t, got, body, "trial %d: kept message lost", trial)
			}
		}
	}
	t.Logf("%d trials: %d deleted messages, %d came back; %d kept messages with a dequeueCount not above the last one", trials, deleted, back, recount)
	require.Zero(t, back, "deleted messages came back")
	require.Zero(t, recount, "dequeueCounts went back")
}

// receiveAll receives want distinct messages, each with dequeueCount round,
// and returns them by body.
func receiveAll(t *testing.T, c *client.Client, queue string, want int, round int64) map[string]client.Message {
	t.Helper()
	out := map[string]client.Message{}
	for len(out) < want {
		res, err := c.BatchReceiveMessage(context.Background(), client.BatchReceiveMessageRequest{QueueName: queue, NumOfMsg: 16, PollingWaitSeconds: new(5)})
		require.NoError(t, err)
		for _, m := range res.MsgInfoList {
			require.Equal(t, round, m.DequeueCount, "message %s", m.MsgBody)
			out[m.MsgBody] = m
		}
	}
	return out
}
