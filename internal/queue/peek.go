package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
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
	stream, err := s.deps.JS.Stream(ctx, streamName(q))
	if err != nil {
		return nil, s.engineErr(err)
	}
	c, err := stream.Consumer(ctx, consumerName)
	if err != nil {
		return nil, s.engineErr(err)
	}
	seq := c.CachedInfo().Delivered.Stream + 1
	var out []Message
	for len(out) < n {
		m, err := stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(messageSubject(q)))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, s.engineErr(err)
		}
		id := m.Header.Get(headerMsgID)
		if id == "" {
			id = strconv.FormatUint(m.Sequence, 10)
		}
		out = append(out, Message{ID: id, Body: m.Data, EnqueueTime: m.Time, Priority: priority(m.Header)})
		seq = m.Sequence + 1
	}
	if len(out) == 0 {
		return nil, ErrNoMessage
	}
	return out, nil
}
