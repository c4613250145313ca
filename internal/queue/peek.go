package queue

import (
	"context"
	"fmt"
	"strconv"
)

// Peek returns up to n messages in the order Receive would take them, without
// receiving them: no receipt handle, nothing becomes invisible, dequeue
// counts stay as they are (MNS's PeekMessage). It sees the messages never
// received yet; one whose visibility timeout has run out shows again once it
// is received again. It returns ErrNoMessage when there is none.
func (s *Service) Peek(ctx context.Context, appID int64, name string, n int) ([]Message, error) {
	q, err := s.store.get(ctx, appID, name)
	if err != nil {
		return nil, err
	}
	if n < 1 || n > MaxBatch {
		return nil, fmt.Errorf("queue: peek %d messages: %w", n, ErrBadAttribute)
	}
	stored, err := s.deps.Engine.Queue(streamName(q), consumerName).Peek(ctx, messageSubject(q), n)
	if err != nil {
		return nil, s.engineErr(err)
	}
	out := make([]Message, 0, len(stored))
	for _, m := range stored {
		id := m.Header.Get(headerMsgID)
		if id == "" {
			id = strconv.FormatUint(m.Seq, 10)
		}
		out = append(out, Message{ID: id, Body: m.Data, EnqueueTime: m.Time, Priority: priority(m.Header)})
	}
	if len(out) == 0 {
		return nil, ErrNoMessage
	}
	return out, nil
}
