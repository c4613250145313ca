package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/herald-mq/herald/internal/engine/stream"
	"github.com/herald-mq/herald/internal/engine/workqueue"
)

// Headers herald puts on queue messages.
const (
	// headerMsgID is the msgId of a message whose id is not its stream
	// sequence: a delayed message, a topic delivery, a dead letter.
	headerMsgID = "Herald-Msg-Id"
	// headerSchedule and headerScheduleTarget make a delayed message a
	// JetStream message schedule.
	headerSchedule       = "Nats-Schedule"
	headerScheduleTarget = "Nats-Schedule-Target"
)

// Message is one received message.
type Message struct {
	ID   string
	Body []byte
	// Handle is the receipt handle that deletes this delivery.
	Handle           string
	EnqueueTime      time.Time
	NextVisibleTime  time.Time
	FirstDequeueTime time.Time
	DequeueCount     int
	// Priority is the priority the message was sent with (SendMessages), 0
	// when it has none. It is stored and returned only: a queue delivers in
	// enqueue order whatever the priority.
	Priority int
}

// Send stores bodies in the queue, each visible after delay, and returns
// their msgIds once the engine has stored every one. A batch that meets a
// full queue is refused whole with ErrHeapFull.
func (s *Service) Send(ctx context.Context, appID int64, name string, bodies [][]byte, delay time.Duration) ([]string, error) {
	q, err := s.store.get(ctx, appID, name)
	if err != nil {
		return nil, err
	}
	for _, b := range bodies {
		if err := checkBody(q, b); err != nil {
			return nil, err
		}
	}
	if delay < 0 || delay > time.Duration(q.MsgRetentionSeconds)*time.Second {
		return nil, ErrDelayOutOfRange
	}
	if err := s.heap.check(ctx, s, q, len(bodies)); err != nil {
		return nil, err
	}
	msgs := make([]stream.Msg, len(bodies))
	ids := make([]string, len(bodies))
	for i, b := range bodies {
		m := stream.Msg{Subject: messageSubject(q), Data: b}
		if delay > 0 {
			ids[i] = workqueue.NewID()
			m.Subject = delaySubject(q)
			m.Header = stream.Header{}
			m.Header.Set(headerSchedule, "@at "+s.now().Add(delay).UTC().Format(time.RFC3339Nano))
			m.Header.Set(headerScheduleTarget, messageSubject(q))
			m.Header.Set(headerMsgID, ids[i])
		}
		msgs[i] = m
	}
	seqs, err := s.publish(ctx, msgs)
	for i, seq := range seqs {
		if ids[i] == "" && seq != 0 {
			ids[i] = strconv.FormatUint(seq, 10)
		}
	}
	if err != nil {
		return nil, err
	}
	return ids, nil
}

func checkBody(q *Queue, b []byte) error {
	switch {
	case len(b) == 0:
		return ErrEmptyMessage
	case len(b) > q.MaxMsgSize:
		return ErrMessageTooBig
	}
	return nil
}

// publish stores msgs, pipelined, and waits for every acknowledgement; it
// returns their stream sequences.
func (s *Service) publish(ctx context.Context, msgs []stream.Msg) ([]uint64, error) {
	seqs, err := s.deps.Engine.Publish(ctx, msgs)
	if err != nil {
		return seqs, s.publishErr(err)
	}
	return seqs, nil
}

func (s *Service) publishErr(err error) error {
	return fmt.Errorf("queue: send: %w", s.engineErr(err))
}

// ErrNotStorable marks an Enqueue this queue can never take: the queue is
// missing, or the body does not fit it. Trying again does not help.
var ErrNotStorable = errors.New("queue: message cannot be stored in this queue")

// Enqueue stores a topic message in a queue (protocol=queue subscriptions),
// returning once it is stored. The message keeps the topic's msgId, and a
// retried delivery of the same msgId within two minutes is stored once. A
// missing queue or a body too big for it is ErrNotStorable.
func (s *Service) Enqueue(ctx context.Context, appID int64, queueName string, body []byte, msgID string) error {
	q, err := s.store.get(ctx, appID, queueName)
	if errors.Is(err, ErrQueueNotFound) {
		return fmt.Errorf("%w: %w", ErrNotStorable, err)
	}
	if err != nil {
		return err
	}
	if err := checkBody(q, body); err != nil {
		return fmt.Errorf("%w: %w", ErrNotStorable, err)
	}
	if err := s.heap.check(ctx, s, q, 1); err != nil {
		return err
	}
	m := stream.Msg{Subject: messageSubject(q), Data: body, Header: stream.Header{}}
	m.Header.Set(headerMsgID, msgID)
	m.Header.Set(workqueue.HeaderDedupID, "topic."+msgID)
	_, err = s.publish(ctx, []stream.Msg{m})
	return err
}

// Receive takes up to n visible messages, waiting up to wait for the first
// to arrive (a negative wait is the queue's pollingWaitSeconds). It returns
// ErrNoMessage when none came. Received messages stay invisible for the
// queue's visibility timeout.
func (s *Service) Receive(ctx context.Context, appID int64, name string, n int, wait time.Duration) ([]Message, error) {
	q, err := s.store.get(ctx, appID, name)
	if err != nil {
		return nil, err
	}
	if n < 1 || n > MaxBatch {
		return nil, fmt.Errorf("queue: receive %d messages: %w", n, ErrBadAttribute)
	}
	if wait < 0 {
		wait = time.Duration(q.PollingWaitSeconds) * time.Second
	}
	deadline := s.now().Add(wait)
	for {
		msgs, err := s.pull(ctx, q, n, max(deadline.Sub(s.now()), minPull))
		if err != nil {
			return nil, err
		}
		out, err := s.deliver(ctx, q, msgs)
		if err != nil {
			return nil, err
		}
		if len(out) > 0 {
			return out, nil
		}
		if deadline.Sub(s.now()) < minPull {
			return nil, ErrNoMessage
		}
	}
}

// minPull is the shortest a pull request waits. The engine tells a consumer
// about new messages asynchronously, so a request that did not wait at all
// could miss a message whose send has just been acknowledged.
const minPull = 50 * time.Millisecond

// deliver turns pulled messages into received ones: it drops those a
// receipt record says are deleted, gives each its durable dequeueCount,
// moves those received too often to the dead-letter queue, and returns
// once a record of every delivery is stored (record.go). On an error the
// messages are handed back.
func (s *Service) deliver(ctx context.Context, q *Queue, msgs []*workqueue.Msg) ([]Message, error) {
	idx, err := s.index(ctx, q)
	if err != nil {
		workqueue.NakAll(msgs)
		return nil, err
	}
	var suspects []uint64
	for _, m := range msgs {
		if m.Delivery.StreamSeq < idx.below {
			suspects = append(suspects, m.Delivery.StreamSeq)
		}
	}
	var recs map[uint64]record
	if len(suspects) > 0 {
		if recs, err = s.records(ctx, q, idx, suspects); err != nil {
			workqueue.NakAll(msgs)
			return nil, err
		}
	}
	var out []Message
	var delivered []*workqueue.Msg
	var seqs, counts []uint64
	for _, m := range msgs {
		d := m.Delivery
		r, ok := recs[d.StreamSeq]
		if ok && r.kind == recordDeleted {
			// Deleted before the engine lost the acknowledgement.
			_ = m.Ack()
			continue
		}
		count := d.Delivered
		if ok && r.count >= count {
			count = r.count + 1
		}
		if q.DeadLetterQueue != "" && count > uint64(q.MaxReceiveCount) && s.deadLetter(ctx, q, m) {
			continue
		}
		out = append(out, s.message(q, m, count))
		delivered = append(delivered, m)
		seqs, counts = append(seqs, d.StreamSeq), append(counts, count)
	}
	if len(out) == 0 {
		return nil, nil
	}
	if _, err := s.publish(ctx, []stream.Msg{receivedRecord(q, seqs, counts)}); err != nil {
		workqueue.NakAll(delivered)
		return nil, fmt.Errorf("queue: receive: %w", err)
	}
	return out, nil
}

// pull is one pull request for up to n messages that the engine answers as
// soon as it has any, or after wait with none. A message that arrives after
// the caller has gone is handed back at once.
func (s *Service) pull(ctx context.Context, q *Queue, n int, wait time.Duration) ([]*workqueue.Msg, error) {
	var waiting func()
	if wait > minPull {
		waiting = s.longPoll
	}
	msgs, err := s.work(q).Pull(ctx, n, wait, waiting)
	switch {
	case errors.Is(err, workqueue.ErrTooManyWaiting):
		return nil, fmt.Errorf("queue: too many receives waiting on %s: %w", q.Name, ErrNoMessage)
	case errors.Is(err, workqueue.ErrGone):
		return nil, fmt.Errorf("queue: receive: %w: %w", ErrQueueNotFound, err)
	case err != nil:
		return nil, fmt.Errorf("queue: receive: %w", err)
	}
	return msgs, nil
}

// message is a received message; count is its dequeueCount, which the
// engine's delivery count may fall short of (record.go).
func (s *Service) message(q *Queue, msg *workqueue.Msg, count uint64) Message {
	d := msg.Delivery
	now := s.now()
	vt := time.Duration(q.VisibilityTimeout) * time.Second
	next := now.Add(vt)
	first := now
	if count > 1 {
		// The engine does not keep the first delivery's time; the earliest it
		// can have been is one visibility timeout per earlier delivery ago.
		first = now.Add(-time.Duration(count-1) * vt)
		if first.Before(d.Stored) {
			first = d.Stored
		}
	}
	return Message{
		ID:   msgID(msg),
		Body: msg.Data(),
		Handle: EncodeHandle(q.Key, Handle{
			Epoch: q.Epoch, StreamSeq: d.StreamSeq, ConsumerSeq: d.ConsumerSeq,
			Delivered: d.Delivered, NextVisibleMs: uint64(next.UnixMilli()),
		}),
		EnqueueTime:      d.Stored,
		NextVisibleTime:  next,
		FirstDequeueTime: first,
		DequeueCount:     int(count),
		Priority:         priority(msg.Header()),
	}
}

func msgID(msg *workqueue.Msg) string {
	if id := msg.Header().Get(headerMsgID); id != "" {
		return id
	}
	return strconv.FormatUint(msg.Delivery.StreamSeq, 10)
}

// deadLetter copies msg into the queue's dead-letter queue and then
// terminates it here; it reports false, leaving msg to be received as usual,
// when the copy could not be stored.
func (s *Service) deadLetter(ctx context.Context, q *Queue, msg *workqueue.Msg) bool {
	dl, err := s.store.get(ctx, q.AppID, q.DeadLetterQueue)
	if err != nil {
		s.deps.Log.Warn("queue: dead-letter queue missing, message kept", "queue", q.Name, "deadLetterQueue", q.DeadLetterQueue)
		return false
	}
	seq := msg.Delivery.StreamSeq
	m := stream.Msg{Subject: messageSubject(dl), Data: msg.Data(), Header: stream.Header{}}
	m.Header.Set(headerMsgID, msgID(msg))
	m.Header.Set(workqueue.HeaderDedupID, "dead."+q.ID+"."+strconv.FormatUint(seq, 10))
	if _, err := s.publish(ctx, []stream.Msg{m}); err != nil {
		s.deps.Log.Warn("queue: dead letter not stored, message kept", "queue", q.Name, "deadLetterQueue", dl.Name, "err", err)
		return false
	}
	// The termination below is forgotten by an engine that stops before
	// writing its consumer state; the record is not.
	if _, err := s.publish(ctx, []stream.Msg{deletedRecord(q, []uint64{seq})}); err != nil {
		s.deps.Log.Warn("queue: dead-lettered message not recorded; it may be copied again after a crash", "queue", q.Name, "err", err)
	}
	if err := msg.Term("dead-lettered to " + dl.Name); err != nil {
		s.deps.Log.Warn("queue: dead-lettered message not terminated; it may be copied again", "queue", q.Name, "err", err)
	}
	s.markDirty(q.ID)
	return true
}

// Delete deletes the messages of receipt handles and returns, for each,
// nil or why it was refused (ErrInvalidHandle: malformed, of another queue
// or epoch, or past its nextVisibleTime). It returns once the engine has
// stored a receipt record of every delete (record.go) and recorded the
// acknowledgements.
func (s *Service) Delete(ctx context.Context, appID int64, name string, handles []string) ([]error, error) {
	q, err := s.store.get(ctx, appID, name)
	if err != nil {
		return nil, err
	}
	errs := make([]error, len(handles))
	guard := min(s.cfg.HandleGuard, time.Duration(q.VisibilityTimeout)*time.Second/10)
	now := uint64(s.now().Add(guard).UnixMilli())
	var receipts []workqueue.Receipt
	var seqs []uint64
	for i, raw := range handles {
		h, err := DecodeHandle(q.Key, raw)
		if err != nil || h.Epoch != q.Epoch || h.NextVisibleMs <= now {
			errs[i] = ErrInvalidHandle
			continue
		}
		receipts = append(receipts, workqueue.Receipt{Delivered: h.Delivered, StreamSeq: h.StreamSeq, ConsumerSeq: h.ConsumerSeq})
		seqs = append(seqs, h.StreamSeq)
	}
	if len(receipts) == 0 {
		return errs, nil
	}
	stored := s.deps.Engine.PublishAsync([]stream.Msg{deletedRecord(q, seqs)})
	if err := s.work(q).AckReceipts(ctx, receipts); err != nil {
		return nil, fmt.Errorf("queue: delete: %w", s.engineErr(err))
	}
	if _, err := stored.Wait(ctx); err != nil {
		return nil, fmt.Errorf("queue: delete: %w", s.publishErr(err))
	}
	s.markDirty(q.ID)
	return errs, nil
}
