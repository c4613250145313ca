package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	fanout "github.com/herald-mq/herald/internal/delivery"
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
	return s.await(ctx, s.publishAsync(msgs))
}

// pending is a pipelined publish: its acknowledgements to come, or why
// they will not.
type pending struct {
	n       int
	futures []jetstream.PubAckFuture
	err     error
}

// publishAsync starts storing msgs; await waits for them.
func (s *Service) publishAsync(msgs []*nats.Msg) pending {
	p := pending{n: len(msgs), futures: make([]jetstream.PubAckFuture, 0, len(msgs))}
	for _, m := range msgs {
		f, err := s.deps.JS.PublishMsgAsync(m)
		if err != nil {
			p.err = err
			break
		}
		p.futures = append(p.futures, f)
	}
	return p
}

func (s *Service) await(ctx context.Context, p pending) ([]*jetstream.PubAck, error) {
	acks := make([]*jetstream.PubAck, p.n)
	firstErr := p.err
	for i, f := range p.futures {
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

var _ fanout.QueueSink = (*Service)(nil)

// Enqueue stores a topic message in a queue (protocol=queue subscriptions),
// returning once it is stored. The message keeps the topic's msgId, and a
// retried delivery of the same msgId within two minutes is stored once. A
// missing queue or a body too big for it is undeliverable (given up at once).
func (s *Service) Enqueue(ctx context.Context, appID int64, queueName string, body []byte, msgID string) error {
	q, err := s.store.get(ctx, appID, queueName)
	if errors.Is(err, ErrQueueNotFound) {
		return fmt.Errorf("%w: %w", fanout.ErrUndeliverable, err)
	}
	if err != nil {
		return err
	}
	if err := checkBody(q, body); err != nil {
		return fmt.Errorf("%w: %w", fanout.ErrUndeliverable, err)
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
	deadline := time.Now().Add(wait)
	for {
		msgs, err := s.pull(ctx, q, n, max(time.Until(deadline), minPull))
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
		if time.Until(deadline) < minPull {
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
func (s *Service) deliver(ctx context.Context, q *Queue, msgs []*nats.Msg) ([]Message, error) {
	idx, err := s.index(ctx, q)
	if err != nil {
		nak(msgs)
		return nil, err
	}
	ds := make([]delivery, 0, len(msgs))
	var kept []*nats.Msg
	var suspects []uint64
	for _, m := range msgs {
		d, ok := parseDelivery(m.Reply)
		if !ok {
			s.deps.Log.Error("queue: message without delivery metadata", "queue", q.Name, "reply", m.Reply)
			continue
		}
		if d.streamSeq < idx.below {
			suspects = append(suspects, d.streamSeq)
		}
		ds, kept = append(ds, d), append(kept, m)
	}
	var recs map[uint64]record
	if len(suspects) > 0 {
		if recs, err = s.records(ctx, q, idx, suspects); err != nil {
			nak(kept)
			return nil, err
		}
	}
	var out []Message
	var delivered []*nats.Msg
	var seqs, counts []uint64
	for i, m := range kept {
		d := ds[i]
		r, ok := recs[d.streamSeq]
		if ok && r.kind == recordDeleted {
			// Deleted before the engine lost the acknowledgement.
			_ = m.Respond(nil)
			continue
		}
		count := d.delivered
		if ok && r.count >= count {
			count = r.count + 1
		}
		if q.DeadLetterQueue != "" && count > uint64(q.MaxReceiveCount) && s.deadLetter(ctx, q, m, d) {
			continue
		}
		out = append(out, s.message(q, m, d, count))
		delivered = append(delivered, m)
		seqs, counts = append(seqs, d.streamSeq), append(counts, count)
	}
	if len(out) == 0 {
		return nil, nil
	}
	if _, err := s.publish(ctx, []*nats.Msg{receivedRecord(q, seqs, counts)}); err != nil {
		nak(delivered)
		return nil, fmt.Errorf("queue: receive: %w", err)
	}
	return out, nil
}

// nak hands messages back to be received again at once.
func nak(msgs []*nats.Msg) {
	for _, m := range msgs {
		_ = m.Respond([]byte("-NAK"))
	}
}

// pull is one pull request for up to n messages that the engine answers as
// soon as it has any, or after wait with none. A message that arrives after
// the caller has gone is handed back at once.
func (s *Service) pull(ctx context.Context, q *Queue, n int, wait time.Duration) ([]*nats.Msg, error) {
	nc := s.deps.NC
	inbox := nc.NewInbox()
	ch := make(chan *nats.Msg, n+2)
	sub, err := nc.ChanSubscribe(inbox, ch)
	if err != nil {
		return nil, fmt.Errorf("queue: receive: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	req := fmt.Appendf(nil, `{"batch":%d,"expires":%d,"no_wait":true}`, n, wait.Nanoseconds())
	if err := nc.PublishRequest(pullSubject(q), inbox, req); err != nil {
		return nil, fmt.Errorf("queue: receive: %w", err)
	}
	if wait > minPull && s.longPoll != nil {
		s.longPoll()
	}
	// The engine ends the request itself; the timer only guards against an
	// engine that went away.
	timer := time.NewTimer(wait + 5*time.Second)
	defer timer.Stop()
	var out []*nats.Msg
	for len(out) < n {
		select {
		case m := <-ch:
			if len(m.Data) == 0 && m.Header.Get("Status") != "" {
				switch code := m.Header.Get("Status"); code {
				case "100": // heartbeat
					continue
				case "404", "408":
					return out, nil
				default:
					if len(out) > 0 {
						return out, nil
					}
					return nil, s.pullErr(q, code, m.Header.Get("Description"))
				}
			}
			out = append(out, m)
		case <-ctx.Done():
			_ = sub.Unsubscribe()
			for len(ch) > 0 {
				out = append(out, <-ch)
			}
			nak(out)
			return nil, ctx.Err()
		case <-timer.C:
			return out, nil
		}
	}
	return out, nil
}

func (s *Service) pullErr(q *Queue, code, desc string) error {
	if code == "409" && desc == "Exceeded MaxWaiting" {
		return fmt.Errorf("queue: too many receives waiting on %s: %w", q.Name, ErrNoMessage)
	}
	if code == "409" && desc == "Consumer Deleted" {
		return fmt.Errorf("queue: receive: %w: %s %s", ErrQueueNotFound, code, desc)
	}
	if code == "503" { // the queue is known, its consumer has no leader (yet)
		return fmt.Errorf("queue: receive: %w", nats.ErrNoResponders)
	}
	return fmt.Errorf("queue: receive: engine answered %s %s", code, desc)
}

func pullSubject(q *Queue) string {
	return "$JS.API.CONSUMER.MSG.NEXT." + streamName(q) + "." + consumerName
}

// delivery is what a message's acknowledgement subject tells about it.
type delivery struct {
	streamSeq, consumerSeq, delivered uint64
	stored                            time.Time
}

// parseDelivery reads an acknowledgement subject:
// $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ns>.<pending> or the
// v2 form with domain and account hash after ACK (and possibly more tokens).
func parseDelivery(reply string) (delivery, bool) {
	tokens := strings.Split(reply, ".")
	if len(tokens) < 9 || tokens[0] != "$JS" || tokens[1] != "ACK" {
		return delivery{}, false
	}
	off := 4
	if len(tokens) == 9 {
		off = 2
	}
	if len(tokens) < off+7 {
		return delivery{}, false
	}
	var nums [4]uint64
	for i := range nums {
		v, err := strconv.ParseUint(tokens[off+2+i], 10, 64)
		if err != nil {
			return delivery{}, false
		}
		nums[i] = v
	}
	return delivery{delivered: nums[0], streamSeq: nums[1], consumerSeq: nums[2], stored: time.Unix(0, int64(nums[3]))}, true
}

// message is a received message; count is its dequeueCount, which the
// engine's delivery count d.delivered may fall short of (record.go).
func (s *Service) message(q *Queue, msg *nats.Msg, d delivery, count uint64) Message {
	now := s.now()
	vt := time.Duration(q.VisibilityTimeout) * time.Second
	next := now.Add(vt)
	first := now
	if count > 1 {
		// The engine does not keep the first delivery's time; the earliest it
		// can have been is one visibility timeout per earlier delivery ago.
		first = now.Add(-time.Duration(count-1) * vt)
		if first.Before(d.stored) {
			first = d.stored
		}
	}
	return Message{
		ID:   msgID(msg, d),
		Body: msg.Data,
		Handle: EncodeHandle(q.Key, Handle{
			Epoch: q.Epoch, StreamSeq: d.streamSeq, ConsumerSeq: d.consumerSeq,
			Delivered: d.delivered, NextVisibleMs: uint64(next.UnixMilli()),
		}),
		EnqueueTime:      d.stored,
		NextVisibleTime:  next,
		FirstDequeueTime: first,
		DequeueCount:     int(count),
		Priority:         priority(msg.Header),
	}
}

func msgID(msg *nats.Msg, d delivery) string {
	if msg.Header != nil {
		if id := msg.Header.Get(headerMsgID); id != "" {
			return id
		}
	}
	return strconv.FormatUint(d.streamSeq, 10)
}

// deadLetter copies msg into the queue's dead-letter queue and then
// terminates it here; it reports false, leaving msg to be received as usual,
// when the copy could not be stored.
func (s *Service) deadLetter(ctx context.Context, q *Queue, msg *nats.Msg, d delivery) bool {
	dl, err := s.store.get(ctx, q.AppID, q.DeadLetterQueue)
	if err != nil {
		s.deps.Log.Warn("queue: dead-letter queue missing, message kept", "queue", q.Name, "deadLetterQueue", q.DeadLetterQueue)
		return false
	}
	m := &nats.Msg{Subject: messageSubject(dl), Data: msg.Data, Header: nats.Header{}}
	m.Header.Set(headerMsgID, msgID(msg, d))
	m.Header.Set(jetstream.MsgIDHeader, "dead."+q.ID+"."+strconv.FormatUint(d.streamSeq, 10))
	if _, err := s.publish(ctx, []*nats.Msg{m}); err != nil {
		s.deps.Log.Warn("queue: dead letter not stored, message kept", "queue", q.Name, "deadLetterQueue", dl.Name, "err", err)
		return false
	}
	// The termination below is forgotten by an engine that stops before
	// writing its consumer state; the record is not.
	if _, err := s.publish(ctx, []*nats.Msg{deletedRecord(q, []uint64{d.streamSeq})}); err != nil {
		s.deps.Log.Warn("queue: dead-lettered message not recorded; it may be copied again after a crash", "queue", q.Name, "err", err)
	}
	if err := msg.Respond([]byte("+TERM dead-lettered to " + dl.Name)); err != nil {
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
	var acks []string
	var seqs []uint64
	for i, raw := range handles {
		h, err := DecodeHandle(q.Key, raw)
		if err != nil || h.Epoch != q.Epoch || h.NextVisibleMs <= now {
			errs[i] = ErrInvalidHandle
			continue
		}
		acks = append(acks, ackSubject(q, h))
		seqs = append(seqs, h.StreamSeq)
	}
	if len(acks) == 0 {
		return errs, nil
	}
	stored := s.publishAsync([]*nats.Msg{deletedRecord(q, seqs)})
	// Acks on one connection reach the consumer in order: the last one, sent
	// as a request, is answered after all of them are recorded (in memory).
	for _, subj := range acks[:len(acks)-1] {
		if err := s.deps.NC.Publish(subj, nil); err != nil {
			return nil, fmt.Errorf("queue: delete: %w", err)
		}
	}
	if _, err := s.deps.NC.RequestWithContext(ctx, acks[len(acks)-1], nil); err != nil {
		return nil, fmt.Errorf("queue: delete: %w", s.engineErr(err))
	}
	if _, err := s.await(ctx, stored); err != nil {
		return nil, fmt.Errorf("queue: delete: %w", err)
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
