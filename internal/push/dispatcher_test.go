package push_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/push"
)

type result struct {
	job     *push.Job
	outcome push.Outcome
}

func newDispatcher(t *testing.T, cfg push.DispatcherConfig) (*push.Dispatcher, chan result) {
	t.Helper()
	p := newPusher(t, push.Config{MaxIdleConnsPerHost: cfg.PerEndpoint})
	results := make(chan result, 1024)
	d, err := push.NewDispatcher(p, cfg, func(j *push.Job, o push.Outcome) { results <- result{j, o} })
	require.NoError(t, err)
	return d, results
}

func job(url string, n int) *push.Job {
	return &push.Job{Message: fixtureMessage(), Target: push.Target{URL: url}, Attempt: push.Attempt{Number: 1}, Ref: n}
}

func recv(t *testing.T, results <-chan result) result {
	t.Helper()
	select {
	case r := <-results:
		return r
	case <-t.Context().Done():
		t.Fatal("test ended waiting for a result")
	}
	return result{}
}

// barrier releases its waiters n at a time.
type barrier struct {
	mu      sync.Mutex
	n       int
	waiting int
	ch      chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{n: n, ch: make(chan struct{})} }

func (b *barrier) wait(ctx context.Context) {
	b.mu.Lock()
	ch := b.ch
	b.waiting++
	if b.waiting == b.n {
		close(b.ch)
		b.ch, b.waiting = make(chan struct{}), 0
	}
	b.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
	}
}

// TestHangingEndpointDoesNotSlowOthers: nine healthy receivers each get
// PerEndpoint pushes at the same time (their handlers only answer once that
// many are in flight together, so any throttling would deadlock) while a
// tenth endpoint hangs with its queue full.
func TestHangingEndpointDoesNotSlowOthers(t *testing.T) {
	t.Parallel()
	const per, queue, healthy = 4, 8, 9
	d, results := newDispatcher(t, push.DispatcherConfig{PerEndpoint: per, QueueSize: queue})
	require.False(t, d.TrySubmit(job("http://127.0.0.1:1", 0)), "not started")
	require.NoError(t, d.Start(t.Context()))
	require.Error(t, d.Start(t.Context()))

	hang, arrived := hangServer(t)
	for i := range per {
		require.True(t, d.TrySubmit(job(hang.URL, i)))
	}
	for range per {
		waitFor(t, arrived, "the hanging endpoint's pushes")
	}
	for i := range queue {
		require.True(t, d.TrySubmit(job(hang.URL, per+i)))
	}
	require.False(t, d.TrySubmit(job(hang.URL, -1)), "its queue is full: the caller reschedules")

	type counters struct{ now, peak atomic.Int64 }
	urls := map[string]*counters{}
	for range healthy {
		c, b := &counters{}, newBarrier(per)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := c.now.Add(1)
			for {
				p := c.peak.Load()
				if n <= p || c.peak.CompareAndSwap(p, n) {
					break
				}
			}
			b.wait(r.Context())
			c.now.Add(-1)
			w.WriteHeader(http.StatusNoContent)
		}))
		t.Cleanup(srv.Close)
		urls[srv.URL] = c
		for i := range per + queue {
			require.True(t, d.TrySubmit(job(srv.URL, i)), "a healthy endpoint's queue is its own")
		}
	}
	delivered := map[string]int{}
	for range healthy * (per + queue) {
		r := recv(t, results)
		require.NotEqual(t, hang.URL, r.job.Target.URL, "the hanging endpoint reported early")
		require.True(t, r.outcome.Delivered(), "%+v", r.outcome)
		delivered[r.job.Target.URL]++
	}
	for u, c := range urls {
		require.Equal(t, per+queue, delivered[u])
		require.Equal(t, int64(per), c.peak.Load(), "full concurrency, never more")
	}

	// Stop past its deadline: the queued pushes are handed back untried,
	// the hanging ones are canceled and handed back.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.ErrorIs(t, d.Stop(ctx), context.Canceled)
	refs := map[int]bool{}
	for range per + queue {
		r := recv(t, results)
		require.Equal(t, hang.URL, r.job.Target.URL)
		require.Equal(t, push.StatusAbandoned, r.outcome.Status)
		require.ErrorIs(t, r.outcome.Err, push.ErrStopped)
		require.Equal(t, push.StatusAbandoned, r.outcome.Status)
		refs[r.job.Ref.(int)] = true
	}
	require.Len(t, refs, per+queue, "each job reported once")
	require.Empty(t, results)
	require.False(t, d.TrySubmit(job(hang.URL, 0)), "stopped")
}

func TestStopWaitsForInFlight(t *testing.T) {
	t.Parallel()
	d, results := newDispatcher(t, push.DispatcherConfig{PerEndpoint: 2, QueueSize: 1})
	require.NoError(t, d.Start(t.Context()))
	release := make(chan struct{})
	arrived := make(chan struct{}, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		arrived <- struct{}{}
		<-release
	}))
	t.Cleanup(srv.Close)
	for i := range 3 {
		require.True(t, d.TrySubmit(job(srv.URL, i)))
	}
	waitFor(t, arrived, "push 1")
	waitFor(t, arrived, "push 2")

	stopped := make(chan error, 1)
	go func() { stopped <- d.Stop(t.Context()) }()
	r := recv(t, results) // Stop has begun: the queued job comes back untried
	require.Equal(t, 2, r.job.Ref)
	require.Equal(t, push.StatusAbandoned, r.outcome.Status)
	require.False(t, d.TrySubmit(job(srv.URL, 9)))
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned %v with pushes in flight", err)
	default:
	}
	close(release)
	require.NoError(t, <-stopped)
	for range 2 {
		require.True(t, recv(t, results).outcome.Delivered())
	}
	require.Empty(t, results)
}

func TestNewDispatcherRejects(t *testing.T) {
	t.Parallel()
	p := newPusher(t, push.Config{})
	_, err := push.NewDispatcher(p, push.DispatcherConfig{PerEndpoint: -1}, func(*push.Job, push.Outcome) {})
	require.Error(t, err)
	_, err = push.NewDispatcher(p, push.DispatcherConfig{}, nil)
	require.Error(t, err)
}

// A stalled endpoint (all attempts held, none finishing for StallAfter)
// hands its waiting jobs back as StatusDeferred and refuses new ones, while
// other endpoints go on; Backoff tells how long to wait before trying again.
func TestStalledEndpointHandsBackItsQueue(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(pushTime)
	p := newPusher(t, push.Config{Clock: clk, MaxIdleConnsPerHost: 2})
	results := make(chan result, 64)
	d, err := push.NewDispatcher(p, push.DispatcherConfig{PerEndpoint: 2, QueueSize: 3, StallAfter: 3 * time.Second},
		func(j *push.Job, o push.Outcome) { results <- result{j, o} })
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	require.NoError(t, d.Start(ctx))
	release := make(chan struct{})
	arrived := make(chan struct{}, 8)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		arrived <- struct{}{}
		<-release
	}))
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	t.Cleanup(func() {
		close(release)
		cancel()
		_ = d.Stop(context.Background())
		hang.Close()
		healthy.Close()
	})
	for i := range 5 {
		require.True(t, d.TrySubmit(job(hang.URL, i)), "job %d", i)
	}
	require.False(t, d.TrySubmit(job(hang.URL, 5)), "queue full")
	require.Equal(t, 50*time.Millisecond, d.Backoff(hang.URL), "no attempt finished yet: the shortest wait")
	waitFor(t, arrived, "push 1")
	waitFor(t, arrived, "push 2")
	// Two push timeouts and the sweeper wait on the clock.
	require.True(t, clk.WaitForTimers(3, t.Context().Done()))
	clk.Advance(time.Second)
	require.Equal(t, 2500*time.Millisecond, d.Backoff(hang.URL),
		"5 jobs held, none finished for 1 s on 2 workers: they drain no faster than 2.5 s")
	clk.Advance(2 * time.Second)
	refs := map[int]bool{}
	for range 3 {
		r := recv(t, results)
		require.Equal(t, push.StatusDeferred, r.outcome.Status)
		require.ErrorIs(t, r.outcome.Err, push.ErrEndpointStalled)
		refs[r.job.Ref.(int)] = true
	}
	require.Equal(t, map[int]bool{2: true, 3: true, 4: true}, refs, "the waiting jobs, not the running ones")
	require.False(t, d.TrySubmit(job(hang.URL, 6)), "stalled: refused")
	require.Equal(t, 3*time.Second, d.Backoff(hang.URL), "wait as long as the endpoint has been stalled")
	require.True(t, d.TrySubmit(job(healthy.URL, 7)), "other endpoints go on")
	r := recv(t, results)
	require.Equal(t, 7, r.job.Ref)
	require.True(t, r.outcome.Delivered())
}

// Submit waits for room at a full endpoint that has been finishing attempts
// quickly, and refuses at once one that has not.
func TestSubmitWaitsForQuickEndpointOnly(t *testing.T) {
	t.Parallel()
	p := newPusher(t, push.Config{Clock: clock.Real{}, MaxIdleConnsPerHost: 1})
	results := make(chan result, 64)
	d, err := push.NewDispatcher(p, push.DispatcherConfig{PerEndpoint: 1, QueueSize: 1},
		func(j *push.Job, o push.Outcome) { results <- result{j, o} })
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	require.NoError(t, d.Start(ctx))
	gate := make(chan struct{}, 16)
	arrived := make(chan struct{}, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		arrived <- struct{}{}
		<-gate
	}))
	slowGate := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { <-slowGate }))
	t.Cleanup(func() {
		close(slowGate)
		close(gate)
		cancel()
		_ = d.Stop(context.Background())
		srv.Close()
		slow.Close()
	})

	// Never finished anything: not known to be quick, refused at once.
	require.True(t, d.Submit(t.Context(), job(slow.URL, 0), time.Second))
	require.True(t, d.Submit(t.Context(), job(slow.URL, 1), time.Second))
	require.False(t, d.Submit(t.Context(), job(slow.URL, 2), time.Hour), "an unproven endpoint is not waited for")

	gate <- struct{}{} // the first push to srv finishes at once
	require.True(t, d.Submit(t.Context(), job(srv.URL, 10), time.Second))
	waitFor(t, arrived, "push 10")
	require.Equal(t, 10, recv(t, results).job.Ref)
	require.True(t, d.Submit(t.Context(), job(srv.URL, 11), time.Second)) // runs, held
	waitFor(t, arrived, "push 11")
	require.True(t, d.Submit(t.Context(), job(srv.URL, 12), time.Second)) // queued: full now
	require.False(t, d.Submit(t.Context(), job(srv.URL, 13), 0), "no wait allowed")

	submitted := make(chan bool, 1)
	go func() { submitted <- d.Submit(t.Context(), job(srv.URL, 14), 10*time.Second) }()
	select {
	case ok := <-submitted:
		t.Fatalf("Submit returned %v with the queue full", ok)
	case <-arrived: // impossible: 12 cannot start before 11 finishes
		t.Fatal("a push started with the endpoint busy")
	default:
	}
	gate <- struct{}{} // 11 finishes; 12 starts; a place frees up for 14
	require.True(t, <-submitted)
}

// A quick endpoint that pauses (a slow answer, a busy machine) for a moment
// is expected back at its usual pace after the pause: Backoff is the pause
// so far plus the held attempts at the endpoint's average, not the pause
// taken for the time of every attempt.
func TestBackoffAfterAHiccupOfAQuickEndpoint(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(pushTime)
	p := newPusher(t, push.Config{Clock: clk, MaxIdleConnsPerHost: 2})
	results := make(chan result, 64)
	d, err := push.NewDispatcher(p, push.DispatcherConfig{PerEndpoint: 2, QueueSize: 3, StallAfter: 3 * time.Second},
		func(j *push.Job, o push.Outcome) { results <- result{j, o} })
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	require.NoError(t, d.Start(ctx))
	gate := make(chan struct{}, 8)
	arrived := make(chan struct{}, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		arrived <- struct{}{}
		<-gate
	}))
	t.Cleanup(func() {
		close(gate)
		cancel()
		_ = d.Stop(context.Background())
		srv.Close()
	})
	// One attempt of 10 ms: the endpoint's average.
	require.True(t, d.TrySubmit(job(srv.URL, 0)))
	waitFor(t, arrived, "push 0")
	clk.Advance(10 * time.Millisecond)
	gate <- struct{}{}
	r := recv(t, results)
	require.True(t, r.outcome.Delivered())
	require.Equal(t, 10*time.Millisecond, r.outcome.Elapsed)

	for i := 1; i <= 5; i++ {
		require.True(t, d.TrySubmit(job(srv.URL, i)), "job %d", i)
	}
	require.False(t, d.TrySubmit(job(srv.URL, 6)), "queue full")
	waitFor(t, arrived, "push 1")
	waitFor(t, arrived, "push 2")
	clk.Advance(500 * time.Millisecond) // nothing finishes for 500 ms
	require.Equal(t, 525*time.Millisecond, d.Backoff(srv.URL),
		"500 ms held up so far, then 5 attempts of 10 ms on 2 workers")
}
