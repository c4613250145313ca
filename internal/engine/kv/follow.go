package kv

import (
	"context"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// Follower feeds every change of a bucket, in revision order, to an apply
// function that keeps an in-memory index, and lets writers wait until the
// index has seen their write. It is the one way herald keeps an index of a
// bucket: the topic and queue metadata both follow theirs with one.
type Follower struct {
	stop context.CancelFunc
	done chan struct{}
	once sync.Once

	mu      sync.Mutex
	rev     uint64        // the last revision applied
	changed chan struct{} // closed and replaced after every applied entry
}

// Follow starts following b: apply is called, from one goroutine, with each
// stored entry and then with each change as it is written. Follow returns
// once everything stored so far has been applied; ctx bounds that wait
// only. Close stops following.
func Follow(ctx context.Context, b *Bucket, apply func(Entry)) (*Follower, error) {
	wctx, cancel := context.WithCancel(context.Background())
	w, err := b.kv.WatchAll(wctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("kv: watch %s: %w", b.kv.Bucket(), err)
	}
	f := &Follower{stop: cancel, done: make(chan struct{}), changed: make(chan struct{})}
	ready := make(chan struct{})
	go f.run(w, apply, ready)
	select {
	case <-ready:
		return f, nil
	case <-ctx.Done():
		f.Close()
		return nil, ctx.Err()
	}
}

func (f *Follower) run(w jetstream.KeyWatcher, apply func(Entry), ready chan struct{}) {
	defer close(f.done)
	defer func() { _ = w.Stop() }()
	caughtUp := false
	for e := range w.Updates() {
		if e == nil { // the end of what was stored when the watch started
			if !caughtUp {
				caughtUp = true
				close(ready)
			}
			continue
		}
		apply(entry(e))
		f.mu.Lock()
		f.rev = max(f.rev, e.Revision())
		close(f.changed)
		f.changed = make(chan struct{})
		f.mu.Unlock()
	}
}

// Close stops following; apply is not called after it returns.
func (f *Follower) Close() {
	f.once.Do(func() {
		f.stop()
		<-f.done
	})
}

// Revision is the last revision applied.
func (f *Follower) Revision() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rev
}

// Wait blocks until done reports true, checking it now and after every
// applied entry, or until ctx ends. done reads the index under the index's
// own lock.
func (f *Follower) Wait(ctx context.Context, done func() bool) error {
	for {
		f.mu.Lock()
		ch := f.changed
		f.mu.Unlock()
		if done() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("kv: index did not catch up: %w", ctx.Err())
		}
	}
}

// WaitRevision blocks until revision rev has been applied, or ctx ends.
func (f *Follower) WaitRevision(ctx context.Context, rev uint64) error {
	return f.Wait(ctx, func() bool { return f.Revision() >= rev })
}
