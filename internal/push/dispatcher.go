package push

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/herald-mq/herald/internal/clock"
)

// ResultFunc receives the Outcome of every job a Dispatcher accepted,
// exactly once: from the worker that ran it, or from Stop for a job that
// never started. It must not block for long: it holds one of the endpoint's
// workers.
type ResultFunc func(j *Job, o Outcome)

// DispatcherConfig sets up a Dispatcher.
type DispatcherConfig struct {
	// PerEndpoint is how many attempts run at once to one endpoint (scheme,
	// host and port). Defaults to 16.
	PerEndpoint int
	// QueueSize is how many jobs wait per endpoint beyond those running;
	// TrySubmit refuses more. Defaults to 1024.
	QueueSize int
	// StallAfter is how long an endpoint may hold all its attempts without
	// finishing one before it counts as stalled: then TrySubmit refuses its
	// jobs and the ones waiting are handed back (StatusDeferred), so a dead
	// endpoint holds no more than its running attempts. Defaults to 3s.
	StallAfter time.Duration
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c DispatcherConfig) WithDefaults() DispatcherConfig {
	c.PerEndpoint = cmp.Or(c.PerEndpoint, 16)
	c.QueueSize = cmp.Or(c.QueueSize, 1024)
	c.StallAfter = cmp.Or(c.StallAfter, 3*time.Second)
	return c
}

func (c DispatcherConfig) validate() error {
	if c.StallAfter < 0 {
		return errors.New("push: negative StallAfter")
	}
	if c.PerEndpoint < 1 || c.QueueSize < 0 {
		return fmt.Errorf("push: PerEndpoint %d must be ≥ 1 and QueueSize %d ≥ 0", c.PerEndpoint, c.QueueSize)
	}
	return nil
}

// Dispatcher runs push attempts with per-endpoint isolation: each endpoint
// has its own bounded queue and at most PerEndpoint attempts in flight, so a
// slow or dead endpoint fills only its own queue and holds only its own
// workers. Workers are goroutines started on demand and gone when their
// endpoint's queue is empty.
type Dispatcher struct {
	cfg    DispatcherConfig
	pusher *Pusher
	report ResultFunc

	mu        sync.Mutex
	endpoints map[string]*endpoint
	started   bool
	stopping  bool
	// runCtx is the context attempts run under, from Start; Stop cancels it
	// when its own deadline passes. Kept here because workers start long
	// after Start returns.
	runCtx    context.Context //nolint:containedctx // lifecycle context owned by Start/Stop
	cancelRun context.CancelCauseFunc
	wg        sync.WaitGroup
	sweeping  sync.WaitGroup
}

type endpoint struct {
	queue   []*Job // waiting
	running int    // taken by a worker and not yet reported
	workers int
	// progress is when an attempt last finished, or when the endpoint went
	// from idle to busy.
	progress time.Time
	// avg is a moving average of attempt durations.
	avg time.Duration
	// room, when not nil, is closed when a place in the queue frees up.
	room chan struct{}
}

// stalled reports whether ep holds all its attempts and has finished none
// for StallAfter.
func (d *Dispatcher) stalled(ep *endpoint, now time.Time) bool {
	return ep.running >= d.cfg.PerEndpoint && now.Sub(ep.progress) >= d.cfg.StallAfter
}

// NewDispatcher returns a Dispatcher that pushes with p and reports every
// accepted job's Outcome to report.
func NewDispatcher(p *Pusher, cfg DispatcherConfig, report ResultFunc) (*Dispatcher, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if p == nil || report == nil {
		return nil, errors.New("push: NewDispatcher needs a Pusher and a ResultFunc")
	}
	return &Dispatcher{cfg: cfg, pusher: p, report: report, endpoints: map[string]*endpoint{}}, nil
}

// Start lets the Dispatcher accept jobs. Canceling ctx abandons the
// attempts in flight, as Stop does when its deadline passes.
func (d *Dispatcher) Start(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.started {
		return errors.New("push: dispatcher already started")
	}
	d.started = true
	d.runCtx, d.cancelRun = context.WithCancelCause(ctx)
	d.sweeping.Add(1)
	go d.sweep()
	return nil
}

// sweep hands back, every StallAfter/2, the jobs waiting for a stalled
// endpoint, so that they are rescheduled instead of waiting behind attempts
// that will time out.
func (d *Dispatcher) sweep() {
	defer d.sweeping.Done()
	clk := d.pusher.cfg.Clock
	for {
		t := clk.NewTimer(d.cfg.StallAfter / 2)
		select {
		case <-d.runCtx.Done():
			t.Stop()
			return
		case <-t.C():
		}
		now := clk.Now()
		var handBack []*Job
		d.mu.Lock()
		for key, ep := range d.endpoints {
			if ep.workers == 0 && len(ep.queue) == 0 && now.Sub(ep.progress) > idlePrune {
				delete(d.endpoints, key)
				continue
			}
			if len(ep.queue) > 0 && d.stalled(ep, now) {
				handBack = append(handBack, ep.queue...)
				clear(ep.queue)
				ep.queue = ep.queue[:0]
			}
		}
		d.mu.Unlock()
		for _, j := range handBack {
			d.report(j, Outcome{Status: StatusDeferred, Err: ErrEndpointStalled})
		}
	}
}

// Backoff says how long a job refused by TrySubmit should wait before it is
// offered again: about the time the endpoint needs to work through what it
// holds, from 50 ms up to 30 s.
func (d *Dispatcher) Backoff(url string) time.Duration {
	now := d.pusher.cfg.Clock.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	ep := d.endpoints[endpointKey(url)]
	if ep == nil {
		return minBackoff
	}
	if d.stalled(ep, now) {
		return min(max(now.Sub(ep.progress), time.Second), maxBackoff)
	}
	held := time.Duration(len(ep.queue) + ep.running)
	perEndpoint := time.Duration(d.cfg.PerEndpoint)
	var drain time.Duration
	switch {
	case ep.running > 0 && ep.avg == 0:
		// Attempts in flight and none ever finished: each takes at least as
		// long as they have run; an endpoint that never answered is not a
		// quick one.
		drain = held * now.Sub(ep.progress) / perEndpoint
	case ep.running > 0:
		// Held up for now.Sub(progress) so far (a slow answer, or a machine
		// too busy to run the workers), then back to its usual pace. Taking
		// the pause for the time of every attempt instead made a quick
		// endpoint's refused messages wait seconds after a 100 ms hiccup,
		// long after the endpoint had worked through its queue.
		drain = now.Sub(ep.progress) + held*ep.avg/perEndpoint
	default:
		drain = held * ep.avg / perEndpoint
	}
	return min(max(drain, minBackoff), maxBackoff)
}

// idlePrune is how long an idle endpoint's figures are kept.
const idlePrune = time.Minute

// Bounds of Backoff.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// TrySubmit queues j without blocking. It returns false, and never reports
// j, when the Dispatcher is not running or j's endpoint is full or stalled;
// the caller then reschedules j durably instead of waiting.
func (d *Dispatcher) TrySubmit(j *Job) bool { return d.Submit(context.Background(), j, 0) }

// Submit queues j like TrySubmit, but when the endpoint's queue is full and
// it frees a place faster than maxWait on average (it is busy, not slow), it
// waits up to maxWait for one. That feeds a fast endpoint at its own pace
// without turning the surplus away, while a slow or stalled endpoint is
// refused at once.
func (d *Dispatcher) Submit(ctx context.Context, j *Job, maxWait time.Duration) bool {
	key := endpointKey(j.Target.URL)
	clk := d.pusher.cfg.Clock
	var deadline clock.Timer
	defer func() {
		if deadline != nil {
			deadline.Stop()
		}
	}()
	for {
		d.mu.Lock()
		if !d.started || d.stopping {
			d.mu.Unlock()
			return false
		}
		now := clk.Now()
		ep := d.endpoints[key]
		if ep == nil {
			ep = &endpoint{progress: now}
			d.endpoints[key] = ep
		}
		if d.stalled(ep, now) {
			d.mu.Unlock()
			return false
		}
		if len(ep.queue)+ep.running < d.cfg.PerEndpoint+d.cfg.QueueSize {
			ep.queue = append(ep.queue, j)
			if ep.workers == 0 && ep.running == 0 {
				ep.progress = now // idle until now: not stalled
			}
			if ep.workers < d.cfg.PerEndpoint {
				ep.workers++
				d.wg.Add(1)
				go d.work(ep)
			}
			d.mu.Unlock()
			return true
		}
		// Wait only for an endpoint known to be quick: one that has finished
		// attempts, recently, fast enough to free a place within maxWait.
		quick := ep.avg > 0 && now.Sub(ep.progress) < 10*maxWait && ep.avg/time.Duration(d.cfg.PerEndpoint) <= maxWait
		if maxWait <= 0 || !quick {
			d.mu.Unlock()
			return false
		}
		if ep.room == nil {
			ep.room = make(chan struct{})
		}
		room := ep.room
		d.mu.Unlock()
		if deadline == nil {
			deadline = clk.NewTimer(maxWait)
		}
		select {
		case <-room:
		case <-deadline.C():
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// work runs ep's jobs until its queue is empty.
func (d *Dispatcher) work(ep *endpoint) {
	defer d.wg.Done()
	for {
		d.mu.Lock()
		if len(ep.queue) == 0 {
			ep.workers-- // the endpoint stays, with its figures, until the sweeper prunes it
			d.mu.Unlock()
			return
		}
		j := ep.queue[0]
		ep.queue[0] = nil
		ep.queue = ep.queue[1:]
		ep.running++
		if ep.room != nil { // a place in the queue is free: wake the waiters
			close(ep.room)
			ep.room = nil
		}
		ctx := d.runCtx
		d.mu.Unlock()
		o := d.pusher.Push(ctx, j)
		d.report(j, o)
		d.mu.Lock()
		ep.running--
		ep.progress = d.pusher.cfg.Clock.Now()
		if ep.avg == 0 {
			ep.avg = o.Elapsed
		} else {
			ep.avg += (o.Elapsed - ep.avg) / 8
		}
		d.mu.Unlock()
	}
}

// Stop refuses new jobs, reports the queued ones as abandoned at once, and
// waits for the attempts in flight. When ctx ends first it cancels them; they
// are reported abandoned (hand them back) and Stop returns ctx's error once
// every worker has finished.
func (d *Dispatcher) Stop(ctx context.Context) error {
	d.mu.Lock()
	if !d.started || d.stopping {
		d.mu.Unlock()
		return nil
	}
	d.stopping = true
	var queued []*Job
	for _, ep := range d.endpoints {
		queued = append(queued, ep.queue...)
		clear(ep.queue)
		ep.queue = ep.queue[:0]
	}
	d.mu.Unlock()
	for _, j := range queued {
		d.report(j, Outcome{Status: StatusAbandoned, Err: fmt.Errorf("%w: never attempted", ErrStopped)})
	}

	done := make(chan struct{})
	go func() {
		d.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		d.cancelRun(fmt.Errorf("%w: stop deadline passed", ErrStopped))
		<-done
	}
	d.cancelRun(ErrStopped)
	d.sweeping.Wait()
	d.pusher.CloseIdleConnections()
	return err
}
