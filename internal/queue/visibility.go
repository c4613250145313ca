package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/herald-mq/herald/internal/engine/workqueue"
)

// ChangeVisibility makes a received message visible again vt from now
// instead of at its handle's nextVisibleTime (MNS's ChangeMessageVisibility),
// and returns the handle to delete it with from now on and its new next
// visible time. vt may be longer than the queue's visibility timeout. The
// engine keeps the delivery pending, so the old handle still deletes the
// message until its own nextVisibleTime; MNS refuses it at once.
func (s *Service) ChangeVisibility(ctx context.Context, appID int64, name, handle string, vt time.Duration) (string, time.Time, error) {
	q, err := s.store.get(ctx, appID, name)
	if err != nil {
		return "", time.Time{}, err
	}
	if vt < time.Second || vt > time.Duration(RangeVisibilityTimeout.Max)*time.Second {
		return "", time.Time{}, fmt.Errorf("queue: visibility timeout %v: %w", vt, ErrBadAttribute)
	}
	now := s.now()
	guard := min(s.cfg.HandleGuard, time.Duration(q.VisibilityTimeout)*time.Second/10)
	h, err := DecodeHandle(q.Key, handle)
	if err != nil || h.Epoch != q.Epoch || h.NextVisibleMs <= uint64(now.Add(guard).UnixMilli()) {
		return "", time.Time{}, ErrInvalidHandle
	}
	// A delayed NAK keeps the delivery pending (so its ack subject still
	// deletes it) and redelivers it vt from now, however long the ack wait.
	r := workqueue.Receipt{Delivered: h.Delivered, StreamSeq: h.StreamSeq, ConsumerSeq: h.ConsumerSeq}
	if err := s.deps.Engine.Queue(streamName(q), consumerName).NakReceiptAfter(ctx, r, vt); err != nil {
		return "", time.Time{}, fmt.Errorf("queue: change visibility: %w", s.engineErr(err))
	}
	next := now.Add(vt)
	h.NextVisibleMs = uint64(next.UnixMilli())
	return EncodeHandle(q.Key, h), next, nil
}
