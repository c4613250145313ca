package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/client"
)

// logReceiver is an endpoint that answers 200 after a delay and records
// every push it gets, with the time it first got each message.
type logReceiver struct {
	URL   string
	mu    sync.Mutex
	count map[string]int
	first map[string]time.Time
}

func newLogReceiver(t *testing.T, delay time.Duration) *logReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r := &logReceiver{URL: "http://" + ln.Addr().String() + "/push", count: map[string]int{}, first: map[string]time.Time{}}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-req.Context().Done():
				return // herald gave up: not received
			}
		}
		id := req.Header.Get("x-cmq-message-id")
		r.mu.Lock()
		if r.count[id] == 0 {
			r.first[id] = time.Now()
		}
		r.count[id]++
		r.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return r
}

// received is how many of ids it has had at least once.
func (r *logReceiver) received(ids []string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, id := range ids {
		if r.count[id] > 0 {
			n++
		}
	}
	return n
}

// duplicates returns the ids of ids received more than once, with the time
// each was first received.
func (r *logReceiver) duplicates(ids []string) map[string]time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	dups := map[string]time.Time{}
	for _, id := range ids {
		if r.count[id] > 1 {
			dups[id] = r.first[id]
		}
	}
	return dups
}

// progressRig is a topic with two healthy subscriptions and one that
// answers in 300 ms, and a batch of messages published to it.
type progressRig struct {
	healthy []*logReceiver
	slow    *logReceiver
	ids     []string
}

func newProgressRig(t *testing.T, n *node, msgs int) *progressRig {
	t.Helper()
	ctx := context.Background()
	p := &progressRig{
		healthy: []*logReceiver{newLogReceiver(t, 0), newLogReceiver(t, 0)},
		slow:    newLogReceiver(t, 300*time.Millisecond),
	}
	_, err := n.Client.CreateTopic(ctx, client.CreateTopicRequest{TopicName: "progress"})
	require.NoError(t, err)
	for i, r := range append([]*logReceiver{p.slow}, p.healthy...) {
		_, err := n.Client.Subscribe(ctx, client.SubscribeRequest{
			TopicName: "progress", SubscriptionName: fmt.Sprintf("s%d", i), Protocol: "http", Endpoint: r.URL,
		})
		require.NoError(t, err)
	}
	for len(p.ids) < msgs {
		bodies := make([]string, 16)
		for j := range bodies {
			bodies[j] = fmt.Sprintf("m%d", len(p.ids)+j)
		}
		res, err := n.Client.BatchPublishMessage(ctx, client.BatchPublishMessageRequest{TopicName: "progress", MsgBodies: bodies})
		require.NoError(t, err)
		for _, m := range res.MsgList {
			p.ids = append(p.ids, m.MsgID)
		}
	}
	return p
}

// waitMidway waits until the healthy subscriptions have every message and
// the slow one at least slowGot of them: its pushes are in flight.
func (p *progressRig) waitMidway(t *testing.T, slowGot int) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, h := range p.healthy {
			if h.received(p.ids) < len(p.ids) {
				return false
			}
		}
		return p.slow.received(p.ids) >= slowGot
	}, 30*time.Second, 10*time.Millisecond, "healthy subscriptions never got the batch")
	require.Less(t, p.slow.received(p.ids), len(p.ids), "the slow subscription finished before the stop: nothing was in flight")
}

// A graceful stop while one subscription is slow: the healthy ones get
// every message exactly once, and the slow one's handed-back messages are
// pushed as soon as herald is back, not after the fan-out's AckWait.
func TestSIGTERMKeepsEachSubscriptionsProgress(t *testing.T) {
	t.Parallel()
	const ackWait = 8 * time.Second
	dir := t.TempDir()
	args := []string{"--delivery-ack-wait", ackWait.String()}
	n := start(t, dir, nil, args...)
	p := newProgressRig(t, n, 160)
	p.waitMidway(t, 20)
	stopped := time.Now()
	took, err := n.stop()
	require.NoError(t, err, "exit 0")
	require.Less(t, took, 10*time.Second)
	atStop := p.slow.received(p.ids)

	start(t, dir, nil, args...)
	restarted := time.Now()
	require.Eventually(t, func() bool { return p.slow.received(p.ids) == len(p.ids) }, 30*time.Second, 20*time.Millisecond)
	// What was handed back is taken up at once: the slow endpoint needs
	// (160-atStop) × 300 ms / 16 ≈ 2 s for it, far below the AckWait.
	took = time.Since(restarted)
	require.Less(t, took, ackWait/2,
		"the slow subscription's %d handed-back messages waited for the AckWait", len(p.ids)-atStop)
	// A source message redelivered by the engine would come AckWait after
	// its first delivery, before the stop.
	require.Never(t, func() bool {
		for _, h := range p.healthy {
			if len(h.duplicates(p.ids)) > 0 {
				return true
			}
		}
		return false
	}, time.Until(stopped.Add(ackWait+time.Second)), 50*time.Millisecond)
	for i, h := range p.healthy {
		require.Empty(t, h.duplicates(p.ids), "healthy subscription %d got messages twice", i)
		require.Equal(t, len(p.ids), h.received(p.ids))
	}
	t.Logf("slow subscription: %d at the stop, all %d %v after the restart, %d pushed again",
		atStop, len(p.ids), took.Round(time.Millisecond), len(p.slow.duplicates(p.ids)))
}

// A kill -9 while one subscription is slow: after the restart the slow one
// gets every message, and the healthy ones get again only messages whose
// push was in flight at the kill: none of those they had long acknowledged.
func TestKillNineRepeatsOnlyPushesInFlight(t *testing.T) {
	t.Parallel()
	const ackWait = 3 * time.Second
	// A message's fan-out counts as in flight until its slow attempts are
	// split off (DeliveryLeaseAfter, 250 ms) and the engine has written its
	// acknowledgement (about every 100 ms).
	const inFlight = time.Second
	dir := t.TempDir()
	args := []string{"--delivery-ack-wait", ackWait.String()}
	n := start(t, dir, nil, args...)
	p := newProgressRig(t, n, 160)
	p.waitMidway(t, 70) // ≈ 1.3 s of the slow endpoint: the healthy pushes are long done
	killed := time.Now()
	n.kill()

	start(t, dir, nil, args...)
	restarted := time.Now()
	require.Eventually(t, func() bool { return p.slow.received(p.ids) == len(p.ids) }, 60*time.Second, 20*time.Millisecond)
	// The engine's redeliveries come within an AckWait of the restart.
	stale := func() []string {
		var out []string
		for i, h := range p.healthy {
			for id, first := range h.duplicates(p.ids) {
				if !first.After(killed.Add(-inFlight)) {
					out = append(out, fmt.Sprintf("subscription %d got %s again, first pushed %v before the kill", i, id, killed.Sub(first)))
				}
			}
		}
		return out
	}
	require.Never(t, func() bool { return len(stale()) > 0 }, time.Until(restarted.Add(ackWait+time.Second)), 50*time.Millisecond)
	require.Empty(t, stale(), "healthy subscriptions got again messages not in flight at the kill")
	for i, h := range p.healthy {
		require.Equal(t, len(p.ids), h.received(p.ids))
		t.Logf("healthy subscription %d: %d messages pushed again (in flight at the kill)", i, len(h.duplicates(p.ids)))
	}
	t.Logf("slow subscription: %d of %d pushed again", len(p.slow.duplicates(p.ids)), len(p.ids))
}
