package e2e

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/client"
)

// Two herald processes on one external JetStream server (--nats-url) share
// everything: what one creates the other serves, a request one served is
// refused as a replay by the other, and a message published through one is
// delivered once.
func TestTwoProcessesShareAnExternalEngine(t *testing.T) {
	t.Parallel()
	url := externalNATS(t)

	recv := newReceiver(t)
	a := start(t, t.TempDir(), nil, "--nats-url", url, "--nats-replicas", "1")
	b := start(t, t.TempDir(), nil, "--nats-url", url, "--nats-replicas", "1")
	ctx := context.Background()
	_, err := a.Client.CreateTopic(ctx, client.CreateTopicRequest{TopicName: "shared"})
	require.NoError(t, err)
	_, err = b.Client.Subscribe(ctx, client.SubscribeRequest{TopicName: "shared", SubscriptionName: "s", Protocol: "http", Endpoint: recv.URL})
	require.NoError(t, err)
	attrs, err := a.Client.GetSubscriptionAttributes(ctx, client.GetSubscriptionAttributesRequest{TopicName: "shared", SubscriptionName: "s"})
	require.NoError(t, err)
	require.Equal(t, recv.URL, attrs.Endpoint)

	// The same signed request (same SecretId, Timestamp and Nonce) replayed to
	// the other process is refused there: nonces are recorded in the engine.
	now := time.Now()
	replayed := make([]*client.Client, 2)
	for i, n := range []*node{a, b} {
		replayed[i], err = client.New("http://"+n.addr, secretID, secretKey,
			client.WithNonce(func() uint64 { return 424242 }), client.WithClock(func() time.Time { return now }))
		require.NoError(t, err)
	}
	_, err = replayed[0].ListTopic(ctx, client.ListTopicRequest{})
	require.NoError(t, err)
	_, err = replayed[1].ListTopic(ctx, client.ListTopicRequest{})
	var apiErr *client.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 4100, apiErr.Code)
	require.Equal(t, 10030, apiErr.ModuleCode)
	require.Contains(t, apiErr.Message, "Nonce was already used")

	var ids []string
	for i := range 20 {
		c := a.Client
		if i%2 == 1 {
			c = b.Client
		}
		// The publishing process may not have seen the subscription made
		// through the other one yet (its index follows the bucket).
		require.Eventually(t, func() bool {
			res, err := c.PublishMessage(ctx, client.PublishMessageRequest{TopicName: "shared", MsgBody: "m" + strconv.Itoa(i)})
			if err == nil {
				ids = append(ids, res.MsgID)
			}
			return err == nil
		}, 10*time.Second, 20*time.Millisecond)
	}
	recv.waitFor(t, ids, 30*time.Second)
	recv.mu.Lock()
	defer recv.mu.Unlock()
	for _, id := range ids {
		require.Equal(t, 1, recv.ids[id], "delivered once: the processes share one fan-out consumer")
	}
}

// An API-only node (--delivery=false) stores what is published and pushes
// none of it; a delivering process on the same engine pushes every message
// once.
func TestAPIOnlyNodeLeavesDeliveryToOthers(t *testing.T) {
	t.Parallel()
	recv := newReceiver(t)
	dir := t.TempDir()
	api := start(t, dir, nil, "--delivery=false")
	ctx := context.Background()
	_, err := api.Client.CreateTopic(ctx, client.CreateTopicRequest{TopicName: "later"})
	require.NoError(t, err)
	_, err = api.Client.Subscribe(ctx, client.SubscribeRequest{TopicName: "later", SubscriptionName: "s", Protocol: "http", Endpoint: recv.URL})
	require.NoError(t, err)
	var ids []string
	for i := range 20 {
		res, err := api.Client.PublishMessage(ctx, client.PublishMessageRequest{TopicName: "later", MsgBody: "m" + strconv.Itoa(i)})
		require.NoError(t, err)
		ids = append(ids, res.MsgID)
	}
	_, err = api.stop()
	require.NoError(t, err)
	require.Contains(t, api.stderr.String(), "delivery off")
	recv.mu.Lock()
	require.Empty(t, recv.ids, "the API-only node pushed nothing")
	recv.mu.Unlock()

	start(t, dir, nil)
	recv.waitFor(t, ids, 30*time.Second)
	recv.mu.Lock()
	defer recv.mu.Unlock()
	for _, id := range ids {
		require.Equal(t, 1, recv.ids[id])
	}
}
