package queue

import (
	"context"
	"sync"
	"time"
)

// heapCounts enforces maxMsgHeapNum. A queue's count is the number of
// messages its stream holds (waiting, in flight, delayed, and deleted ones
// kept for rewind, but not receipt records), read from the engine. Far from
// the limit a count a second old is good enough; within a tenth of it every
// send reads it afresh. Sends racing from several processes can overshoot the limit by
// the messages in flight at that moment.
type heapCounts struct {
	mu     sync.Mutex
	counts map[string]heapCount // by queue ID
}

type heapCount struct {
	msgs int64
	at   time.Time
}

const heapCountTTL = time.Second

func (h *heapCounts) check(ctx context.Context, s *Service, q *Queue, adding int) error {
	now := s.now()
	h.mu.Lock()
	c, ok := h.counts[q.ID]
	h.mu.Unlock()
	fresh := ok && now.Sub(c.at) < heapCountTTL && c.msgs+int64(adding) <= q.MaxMsgHeapNum-q.MaxMsgHeapNum/10
	if !fresh {
		st, err := s.work(q).StreamState(ctx, "")
		if err != nil {
			return s.engineErr(err)
		}
		records, err := s.countRecords(ctx, q)
		if err != nil {
			return err
		}
		c = heapCount{msgs: int64(st.Msgs) - records, at: now}
	}
	if c.msgs+int64(adding) > q.MaxMsgHeapNum {
		return ErrHeapFull
	}
	c.msgs += int64(adding)
	h.mu.Lock()
	if h.counts == nil {
		h.counts = map[string]heapCount{}
	}
	h.counts[q.ID] = c
	h.mu.Unlock()
	return nil
}

func (h *heapCounts) forget(id string) {
	h.mu.Lock()
	delete(h.counts, id)
	h.mu.Unlock()
}
