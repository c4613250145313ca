package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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
	msgs := make([]*nats.Msg, len(bodies))
	ids := make([]string, len(bodies))
	for i, b := range bodies {
		m := &nats.Msg{Subject: messageSubject(q), Data: b}
		if delay > 0 {
			ids[i] = nats.NewInbox()[len(nats.InboxPrefix):]
			m.Subject = delaySubject(q)
			m.Header = nats.Header{}
			m.Header.Set(headerSchedule, "@at "+s.now().Add(delay).UTC().Format(time.RFC3339Nano))
			m.Header.Set(headerScheduleTarget, messageSubject(q))
			m.Header.Set(headerMsgID, ids[i])
		}
		msgs[i] = m
	}
	acks, err := s.publish(ctx, msgs)
	for i, ack := range acks {
		if ids[i] == "" && ack != nil {
			ids[i] = strconv.FormatUint(ack.Sequence, 10)
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

// publish stores msgs, pipelined, and waits for every acknowledgement.
func (s *Service) publish(ctx context.Context, msgs []*nats.Msg) ([]*jetstream.PubAck, error) {
	if len(msgs) == 1 {
		ack, err := s.deps.JS.PublishMsg(ctx, msgs[0])
		if err != nil {
			return nil, s.publishErr(err)
		}
		return []*jetstream.PubAck{ack}, nil
	}
	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	var firstErr error
	for _, m := range msgs {
		f, err := s.deps.JS.PublishMsgAsync(m)
		if err != nil {
			firstErr = err
			break
		}
		futures = append(futures, f)
	}
	acks := make([]*jetstream.PubAck, len(msgs))
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			acks[i] = ack
		case err := <-f.Err():
			firstErr = cmpErr(firstErr, err)
		case <-ctx.Done():
			return acks, ctx.Err()
		}
	}
	if firstErr != nil {
		return acks, s.publishErr(firstErr)
	}
	return acks, nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func (s *Service) publishErr(err error) error {
	return fmt.Errorf("queue: send: %w", s.engineErr(err))
}

// Enqueue stores a topic message in a queue (protocol=queue subscriptions),
// returning once it is stored. The message keeps the topic's msgId, and a
// retried delivery of the same msgId within two minutes is stored once.
func (s *Service) Enqueue(ctx context.Context, appID int64, queueName string, body []byte, msgID string) error {
	q, err := s.store.get(ctx, appID, queueName)
	if err != nil {
		return err
	}
	if err := checkBody(q, body); err != nil {
		return err
	}
	if err := s.heap.check(ctx, s, q, 1); err != nil {
		return err
	}
	m := &nats.Msg{Subject: messageSubject(q), Data: body, Header: nats.Header{}}
	m.Header.Set(headerMsgID, msgID)
	m.Header.Set(jetstream.MsgIDHeader, "topic."+msgID)
	_, err = s.publish(ctx, []*nats.Msg{m})
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
	cons, err := s.consumer(ctx, q)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	var out []Message
	for {
		batch, err := cons.FetchNoWait(n - len(out))
		if err != nil {
			return nil, s.engineErr(err)
		}
		if out, err = s.take(ctx, q, batch, out); err != nil {
			return nil, err
		}
		if len(out) > 0 {
			return out, nil
		}
		left := time.Until(deadline)
		if left < 100*time.Millisecond {
			return nil, ErrNoMessage
		}
		// Long poll: a pull request for one message that the engine answers
		// the moment one arrives; the rest of the batch is then topped up.
		if s.longPoll != nil {
			s.longPoll()
		}
		pctx, cancel := context.WithTimeout(ctx, left)
		batch, err = cons.Fetch(1, jetstream.FetchContext(pctx))
		if err != nil {
			cancel()
			return nil, s.engineErr(err)
		}
		out, err = s.take(ctx, q, batch, out)
		cancel()
		if err != nil {
			return nil, err
		}
		if ctx.Err() != nil {
			s.release(q, out)
			return nil, ctx.Err()
		}
		if len(out) == n {
			return out, nil
		}
		if len(out) > 0 {
			wait, deadline = 0, time.Now() // top up without waiting again
		}
	}
}

// take turns a fetched batch into messages, dead-lettering those received
// too often.
func (s *Service) take(ctx context.Context, q *Queue, batch jetstream.MessageBatch, out []Message) ([]Message, error) {
	for msg := range batch.Messages() {
		meta, err := msg.Metadata()
		if err != nil {
			s.deps.Log.Error("queue: message without metadata", "queue", q.Name, "err", err)
			continue
		}
		if q.DeadLetterQueue != "" && meta.NumDelivered > uint64(q.MaxReceiveCount) && s.deadLetter(ctx, q, msg, meta) {
			continue
		}
		out = append(out, s.message(q, msg, meta))
	}
	if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, jetstream.ErrNoMessages) {
		if len(out) > 0 {
			return out, nil // what arrived is the receiver's now; report the rest next time
		}
		return out, s.engineErr(err)
	}
	return out, nil
}

func (s *Service) message(q *Queue, msg jetstream.Msg, meta *jetstream.MsgMetadata) Message {
	now := s.now()
	vt := time.Duration(q.VisibilityTimeout) * time.Second
	next := now.Add(vt)
	id := msg.Headers().Get(headerMsgID)
	if id == "" {
		id = strconv.FormatUint(meta.Sequence.Stream, 10)
	}
	first := now
	if meta.NumDelivered > 1 {
		// The engine does not keep the first delivery's time; the earliest it
		// can have been is one visibility timeout per earlier delivery ago.
		first = now.Add(-time.Duration(meta.NumDelivered-1) * vt)
		if first.Before(meta.Timestamp) {
			first = meta.Timestamp
		}
	}
	return Message{
		ID:   id,
		Body: msg.Data(),
		Handle: EncodeHandle(q.Key, Handle{
			Epoch: q.Epoch, StreamSeq: meta.Sequence.Stream, ConsumerSeq: meta.Sequence.Consumer,
			Delivered: meta.NumDelivered, NextVisibleMs: uint64(next.UnixMilli()),
		}),
		EnqueueTime:      meta.Timestamp,
		NextVisibleTime:  next,
		FirstDequeueTime: first,
		DequeueCount:     int(meta.NumDelivered),
	}
}

// release makes messages received for a caller that has gone visible again
// at once, rather than after their visibility timeout.
func (s *Service) release(q *Queue, msgs []Message) {
	for _, m := range msgs {
		if h, err := DecodeHandle(q.Key, m.Handle); err == nil {
			_ = s.deps.NC.Publish(ackSubject(q, h), []byte("-NAK"))
		}
	}
}

// deadLetter copies msg into the queue's dead-letter queue and then
// terminates it here; it reports false, leaving msg to be received as usual,
// when the copy could not be stored.
func (s *Service) deadLetter(ctx context.Context, q *Queue, msg jetstream.Msg, meta *jetstream.MsgMetadata) bool {
	dl, err := s.store.get(ctx, q.AppID, q.DeadLetterQueue)
	if err != nil {
		s.deps.Log.Warn("queue: dead-letter queue missing, message kept", "queue", q.Name, "deadLetterQueue", q.DeadLetterQueue)
		return false
	}
	id := msg.Headers().Get(headerMsgID)
	if id == "" {
		id = strconv.FormatUint(meta.Sequence.Stream, 10)
	}
	m := &nats.Msg{Subject: messageSubject(dl), Data: msg.Data(), Header: nats.Header{}}
	m.Header.Set(headerMsgID, id)
	m.Header.Set(jetstream.MsgIDHeader, "dead."+q.ID+"."+strconv.FormatUint(meta.Sequence.Stream, 10))
	if _, err := s.publish(ctx, []*nats.Msg{m}); err != nil {
		s.deps.Log.Warn("queue: dead letter not stored, message kept", "queue", q.Name, "deadLetterQueue", dl.Name, "err", err)
		return false
	}
	if err := msg.TermWithReason("dead-lettered to " + dl.Name); err != nil {
		s.deps.Log.Warn("queue: dead-lettered message not terminated; it may be copied again", "queue", q.Name, "err", err)
	}
	s.markDirty(q.ID)
	return true
}

// consumer returns the queue's consumer, looked up once per process.
func (s *Service) consumer(ctx context.Context, q *Queue) (jetstream.Consumer, error) {
	if c, ok := s.consumers.Load(q.ID); ok {
		return c.(jetstream.Consumer), nil
	}
	c, err := s.deps.JS.Consumer(ctx, streamName(q), consumerName)
	if err != nil {
		return nil, s.engineErr(err)
	}
	s.consumers.Store(q.ID, c)
	return c, nil
}

// Delete acknowledges receipt handles and returns, for each, nil or why it
// was refused (ErrInvalidHandle: malformed, of another queue or epoch, or
// past its nextVisibleTime). It returns once the engine has recorded the
// deletes.
func (s *Service) Delete(ctx context.Context, appID int64, name string, handles []string) ([]error, error) {
	q, err := s.store.get(ctx, appID, name)
	if err != nil {
		return nil, err
	}
	errs := make([]error, len(handles))
	guard := min(s.cfg.HandleGuard, time.Duration(q.VisibilityTimeout)*time.Second/10)
	now := uint64(s.now().Add(guard).UnixMilli())
	var acks []string
	for i, raw := range handles {
		h, err := DecodeHandle(q.Key, raw)
		if err != nil || h.Epoch != q.Epoch || h.NextVisibleMs <= now {
			errs[i] = ErrInvalidHandle
			continue
		}
		acks = append(acks, ackSubject(q, h))
	}
	if len(acks) == 0 {
		return errs, nil
	}
	// Acks on one connection reach the consumer in order: the last one, sent
	// as a request, is answered after all of them are recorded.
	for _, subj := range acks[:len(acks)-1] {
		if err := s.deps.NC.Publish(subj, nil); err != nil {
			return nil, fmt.Errorf("queue: delete: %w", err)
		}
	}
	if _, err := s.deps.NC.RequestWithContext(ctx, acks[len(acks)-1], nil); err != nil {
		return nil, fmt.Errorf("queue: delete: %w", s.engineErr(err))
	}
	s.markDirty(q.ID)
	return errs, nil
}

// ackSubject is the consumer's (v1) acknowledgement subject for a delivery.
func ackSubject(q *Queue, h Handle) string {
	b := make([]byte, 0, 96)
	b = append(b, "$JS.ACK."...)
	b = append(b, streamName(q)...)
	b = append(b, "."+consumerName+"."...)
	b = strconv.AppendUint(b, h.Delivered, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, h.StreamSeq, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, h.ConsumerSeq, 10)
	b = append(b, ".0.0"...)
	return string(b)
}
