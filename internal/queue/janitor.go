package queue

import (
	"context"
	"errors"
	"time"

	"github.com/herald-mq/herald/internal/engine/workqueue"
)

func (s *Service) markDirty(id string) {
	s.dirtyMu.Lock()
	s.dirty[id] = true
	s.dirtyMu.Unlock()
}

// janitor purges, every PurgeInterval, what deletes have left behind.
func (s *Service) janitor(ctx context.Context, stopped chan<- struct{}) {
	defer close(stopped)
	for {
		t := s.deps.Clock.NewTimer(s.cfg.PurgeInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
		s.purge(ctx)
	}
}

// purge drops, in every queue with deletes since its last purge, the
// deleted messages that are older than the queue's rewind window. The
// stream keeps messages under limits retention, so without this a deleted
// message would stay until msgRetentionSeconds and count against the heap.
func (s *Service) purge(ctx context.Context) {
	s.dirtyMu.Lock()
	ids := s.dirty
	s.dirty = map[string]bool{}
	s.dirtyMu.Unlock()
	if len(ids) == 0 {
		return
	}
	for _, q := range s.store.all() {
		if !ids[q.ID] {
			continue
		}
		done, err := s.purgeQueue(ctx, q)
		if err != nil && !errors.Is(err, ErrQueueNotFound) && ctx.Err() == nil {
			s.deps.Log.Warn("queue: purge", "queue", q.Name, "err", err)
		}
		if !done && ctx.Err() == nil {
			s.markDirty(q.ID)
		}
	}
}

// purgeQueue reports whether everything deleted is gone, or only part
// (rewind window, or an error).
func (s *Service) purgeQueue(ctx context.Context, q *Queue) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	w := s.work(q)
	st, err := w.State(ctx, "")
	if err != nil {
		return errors.Is(err, workqueue.ErrNoStream), s.engineErr(err)
	}
	// Everything below the ack floor is deleted.
	upTo := st.AckFloor + 1
	done := true
	if q.RewindSeconds > 0 {
		keepFrom, err := s.seqAtTime(ctx, q, s.now().Add(-time.Duration(q.RewindSeconds)*time.Second))
		if err != nil {
			return false, err
		}
		if keepFrom < upTo {
			upTo, done = keepFrom, false
		}
	}
	if upTo <= st.FirstSeq {
		return done, nil
	}
	if err := w.Purge(ctx, messageSubject(q), upTo); err != nil {
		return false, s.engineErr(err)
	}
	// A receipt record is stored after the messages it names, so one below
	// upTo names only messages that have just gone (or went before).
	if err := w.Purge(ctx, recordSubject(q), upTo); err != nil {
		return false, s.engineErr(err)
	}
	return done, nil
}
