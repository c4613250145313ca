package e2e

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/client"
)

// When the node leading a stream of a 3-node JetStream cluster is killed,
// every API request answers within --engine-retry-timeout (plus the time to
// send the answer): it waits for a new leader and is stored, or it fails with
// the documented retryable error 6000/10810. Publishing resumes once a new
// leader is elected, and every acknowledged message is delivered or
// receivable.
func TestStreamLeaderLossAnswersWithinTheBound(t *testing.T) {
	t.Parallel()
	const bound = 3 * time.Second
	const slack = 1500 * time.Millisecond
	cluster := startNatsCluster(t, 3)
	recv := newReceiver(t)
	h := start(t, t.TempDir(), []string{"HERALD_ENGINE_RETRY_TIMEOUT=" + bound.String()},
		"--nats-url", cluster.URL(), "--nats-replicas", "3")
	ctx := context.Background()
	c, err := client.New("http://"+h.addr, secretID, secretKey, client.WithTimeout(20*time.Second))
	require.NoError(t, err)
	_, err = c.CreateTopic(ctx, client.CreateTopicRequest{TopicName: "t"})
	require.NoError(t, err)
	_, err = c.Subscribe(ctx, client.SubscribeRequest{TopicName: "t", SubscriptionName: "s", Protocol: "http", Endpoint: recv.URL})
	require.NoError(t, err)
	_, err = c.CreateQueue(ctx, client.CreateQueueRequest{QueueName: "q"})
	require.NoError(t, err)

	var (
		mu        sync.Mutex
		published []string // acknowledged topic message ids
		sent      = map[string]bool{}
		failures  []error
		slow      []time.Duration
	)
	var killed atomic.Bool
	var afterKill [2]atomic.Int64 // successes of publishes and sends begun after the kill
	done := make(chan struct{})
	var workers sync.WaitGroup
	work := func(name string, after *atomic.Int64, call func(i int) (string, error), record func(id string)) {
		defer workers.Done()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			wasKilled := killed.Load()
			begin := time.Now()
			id, err := call(i)
			took := time.Since(begin)
			mu.Lock()
			if took > bound+slack {
				slow = append(slow, took)
			}
			if err != nil {
				failures = append(failures, errors.Join(errors.New(name), err))
			} else {
				record(id)
			}
			mu.Unlock()
			if err == nil && wasKilled {
				after.Add(1)
			}
		}
	}
	workers.Add(2)
	go work("publish", &afterKill[0], func(i int) (string, error) {
		res, err := c.PublishMessage(ctx, client.PublishMessageRequest{TopicName: "t", MsgBody: "p" + strconv.Itoa(i)})
		if err != nil {
			return "", err
		}
		return res.MsgID, nil
	}, func(id string) { published = append(published, id) })
	go work("send", &afterKill[1], func(i int) (string, error) {
		res, err := c.SendMessage(ctx, client.SendMessageRequest{QueueName: "q", MsgBody: "s" + strconv.Itoa(i)})
		if err != nil {
			return "", err
		}
		return res.MsgID, nil
	}, func(id string) { sent[id] = true })

	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(published) > 20 && len(sent) > 20
	}, 30*time.Second, 10*time.Millisecond)
	leader := cluster.killLeader("HERALD_MESSAGES")
	killed.Store(true)
	t.Logf("killed %s, the leader of HERALD_MESSAGES", leader)
	require.Eventually(t, func() bool { return afterKill[0].Load() >= 20 && afterKill[1].Load() >= 20 },
		30*time.Second, 20*time.Millisecond, "publishing or sending did not resume after the leader was killed")
	close(done)
	workers.Wait()

	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, slow, "requests answered after the bound %v", bound)
	for _, err := range failures {
		var apiErr *client.Error
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, 6000, apiErr.Code, "%v", err)
		require.Equal(t, 10810, apiErr.ModuleCode, "%v", err)
		require.Equal(t, "engine unavailable, retry", apiErr.Message)
	}
	t.Logf("%d published, %d sent, %d refused as retryable", len(published), len(sent), len(failures))

	recv.waitFor(t, published, 60*time.Second)
	got := map[string]bool{}
	wait := 1
	for len(got) < len(sent) {
		res, err := c.BatchReceiveMessage(ctx, client.BatchReceiveMessageRequest{QueueName: "q", NumOfMsg: 16, PollingWaitSeconds: &wait})
		var apiErr *client.Error
		if errors.As(err, &apiErr) && apiErr.Code == 7000 {
			break
		}
		require.NoError(t, err)
		for _, m := range res.MsgInfoList {
			got[m.MsgID] = true
		}
	}
	for id := range sent {
		require.True(t, got[id], "acknowledged send %s not receivable", id)
	}
}
