// Package workqueue is a queue of messages in the engine that consumers pull
// with a long-poll wait and settle one by one: ack (done), nak (again, now or
// after a delay), in progress (not yet), term (never again). It is a stream
// with one durable pull consumer. The pull protocol (requests, status codes
// 100/404/408/409/503, acknowledgement subjects) is spoken here and nowhere
// else, so a nats.go or nats-server upgrade that changes it breaks one
// place.
package workqueue

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/herald-mq/herald/internal/engine/stream"
)

// Errors of a work queue.
var (
	// ErrGone: the queue's stream or consumer does not exist (any more), or
	// nothing answers for it.
	ErrGone = errors.New("workqueue: stream or consumer gone")
	// ErrNoStream: the queue's stream does not exist (a kind of ErrGone).
	ErrNoStream = fmt.Errorf("%w: no such stream", ErrGone)
	// ErrTooManyWaiting: more pulls wait on the consumer than it allows
	// (ConsumerConfig.MaxWaiting).
	ErrTooManyWaiting = errors.New("workqueue: too many pulls waiting")
)

// ConsumerConfig is the queue's durable consumer.
type ConsumerConfig struct {
	// Name of the durable consumer.
	Name string
	// Filter is the subject the consumer takes messages from.
	Filter string
	// AckWait is how long a pulled message stays with its puller before it
	// is delivered again.
	AckWait time.Duration
	// MaxWaiting bounds the pulls waiting at once; 0 is the engine's default.
	MaxWaiting int
	// MaxAckPending bounds the messages delivered and not settled; 0 is no
	// bound.
	MaxAckPending int
}

func (c ConsumerConfig) jetStream() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       c.Name,
		FilterSubject: c.Filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: cmp.Or(c.MaxAckPending, -1),
		MaxWaiting:    c.MaxWaiting,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
}

// Engine is a connection to JetStream on which work queues live.
type Engine struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	open func(context.Context, stream.Config) (*stream.Stream, error)
}

// NewEngine serves work queues on nc; open creates or updates a stream at the
// engine's replica settings (the engine passes its own).
func NewEngine(nc *nats.Conn, js jetstream.JetStream, open func(context.Context, stream.Config) (*stream.Stream, error)) *Engine {
	return &Engine{nc: nc, js: js, open: open}
}

// Reconnects counts the connection's reconnections: state a process read
// from the engine before the last one may be out of date.
func (e *Engine) Reconnects() uint64 { return e.nc.Stats().Reconnects }

// Queue is a handle on the work queue of stream and consumer; making it asks
// nothing of the engine.
func (e *Engine) Queue(streamName, consumer string) *Queue {
	return &Queue{e: e, stream: streamName, consumer: consumer}
}

// Queue is one work queue.
type Queue struct {
	e        *Engine
	stream   string
	consumer string
}

// Create creates the stream (or updates it to sc) and the consumer.
func (q *Queue) Create(ctx context.Context, sc stream.Config, cc ConsumerConfig) error {
	sc.Name, cc.Name = q.stream, q.consumer
	s, err := q.e.open(ctx, sc)
	if err != nil {
		return err
	}
	_ = s
	if _, err := q.e.js.CreateOrUpdateConsumer(ctx, q.stream, cc.jetStream()); err != nil {
		return fmt.Errorf("workqueue: consumer: %w", gone(err))
	}
	return nil
}

// UpdateStream changes the stream's settings to sc.
func (q *Queue) UpdateStream(ctx context.Context, sc stream.Config) error {
	sc.Name = q.stream
	_, err := q.e.open(ctx, sc)
	return err
}

// UpdateConsumer changes the consumer's settings to cc.
func (q *Queue) UpdateConsumer(ctx context.Context, cc ConsumerConfig) error {
	cc.Name = q.consumer
	if _, err := q.e.js.UpdateConsumer(ctx, q.stream, cc.jetStream()); err != nil {
		return fmt.Errorf("workqueue: consumer: %w", gone(err))
	}
	return nil
}

// RecreateConsumer deletes the consumer and creates it anew, with no
// delivery or acknowledgement known: what an engine that died before
// writing the consumer's state brings back at worst (tests).
func (q *Queue) RecreateConsumer(ctx context.Context, cc ConsumerConfig) error {
	cc.Name = q.consumer
	if err := q.e.js.DeleteConsumer(ctx, q.stream, q.consumer); err != nil {
		return gone(err)
	}
	_, err := q.e.js.CreateConsumer(ctx, q.stream, cc.jetStream())
	return gone(err)
}

// Delete deletes the stream with its messages and consumer; a queue that is
// already gone is no error.
func (q *Queue) Delete(ctx context.Context) error {
	if err := q.e.js.DeleteStream(ctx, q.stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("workqueue: delete %s: %w", q.stream, err)
	}
	return nil
}

// ResetTo makes the consumer deliver again, in order, every message from
// stream sequence seq; messages before it count as acknowledged.
func (q *Queue) ResetTo(ctx context.Context, seq uint64) error {
	if _, err := q.e.js.ResetConsumerToSequence(ctx, q.stream, q.consumer, seq); err != nil {
		return gone(err)
	}
	return nil
}

// State is a moment's picture of the queue.
type State struct {
	// Msgs and FirstSeq, LastSeq are the stream's.
	Msgs, FirstSeq, LastSeq uint64
	// SubjectMsgs is the messages on the subject asked for.
	SubjectMsgs uint64
	// Pending are waiting to be delivered; AckPending were delivered and are
	// not settled; AckFloor is the stream sequence below which everything is
	// acknowledged.
	Pending, AckPending, AckFloor uint64
}

// StreamState reads the stream's counts (consumer fields stay zero), with
// the messages on subject when it is not "".
func (q *Queue) StreamState(ctx context.Context, subject string) (State, error) {
	s, err := q.e.js.Stream(ctx, q.stream)
	if err != nil {
		return State{}, gone(err)
	}
	info := s.CachedInfo()
	if subject != "" {
		if info, err = s.Info(ctx, jetstream.WithSubjectFilter(subject)); err != nil {
			return State{}, gone(err)
		}
	}
	return State{
		Msgs: info.State.Msgs, FirstSeq: info.State.FirstSeq, LastSeq: info.State.LastSeq,
		SubjectMsgs: info.State.Subjects[subject],
	}, nil
}

// State reads the stream's and the consumer's counts, with the messages on
// subject when it is not "".
func (q *Queue) State(ctx context.Context, subject string) (State, error) {
	st, err := q.StreamState(ctx, subject)
	if err != nil {
		return State{}, err
	}
	c, err := q.e.js.Consumer(ctx, q.stream, q.consumer)
	if err != nil {
		return State{}, gone(err)
	}
	ci := c.CachedInfo()
	st.Pending, st.AckPending, st.AckFloor = ci.NumPending, uint64(ci.NumAckPending), ci.AckFloor.Stream
	return st, nil
}

// Purge drops the messages of subject with a sequence below below (all with 0).
func (q *Queue) Purge(ctx context.Context, subject string, below uint64) error {
	s, err := q.e.js.Stream(ctx, q.stream)
	if err != nil {
		return gone(err)
	}
	opts := []jetstream.StreamPurgeOpt{jetstream.WithPurgeSubject(subject)}
	if below > 0 {
		opts = append(opts, jetstream.WithPurgeSequence(below))
	}
	return gone(s.Purge(ctx, opts...))
}

// gone wraps err with ErrGone when it says the stream or consumer is not
// there, or that nothing answers for it.
func gone(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("%w: %w", ErrNoStream, err)
	}
	if errors.Is(err, jetstream.ErrConsumerNotFound) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
		return fmt.Errorf("%w: %w", ErrGone, err)
	}
	return err
}

// Delivery is what a pulled message's acknowledgement subject tells about it.
type Delivery struct {
	StreamSeq, ConsumerSeq uint64
	// Delivered counts the consumer's deliveries of the message, this one
	// included.
	Delivered uint64
	// Stored is when the stream stored the message.
	Stored time.Time
}

// parseDelivery reads an acknowledgement subject:
// $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ns>.<pending> or the
// v2 form with domain and account hash after ACK (and possibly more tokens).
func parseDelivery(reply string) (Delivery, bool) {
	tokens := strings.Split(reply, ".")
	if len(tokens) < 9 || tokens[0] != "$JS" || tokens[1] != "ACK" {
		return Delivery{}, false
	}
	off := 4
	if len(tokens) == 9 {
		off = 2
	}
	if len(tokens) < off+7 {
		return Delivery{}, false
	}
	var nums [4]uint64
	for i := range nums {
		v, err := strconv.ParseUint(tokens[off+2+i], 10, 64)
		if err != nil {
			return Delivery{}, false
		}
		nums[i] = v
	}
	return Delivery{Delivered: nums[0], StreamSeq: nums[1], ConsumerSeq: nums[2], Stored: time.Unix(0, int64(nums[3]))}, true
}

// Receipt names one delivery to acknowledge later, possibly from another
// process: what a Delivery's sequence numbers are.
type Receipt struct {
	Delivered, StreamSeq, ConsumerSeq uint64
}

// ackSubject is the consumer's (v1) acknowledgement subject for a delivery.
func (q *Queue) ackSubject(r Receipt) string {
	b := make([]byte, 0, 96)
	b = append(b, "$JS.ACK."...)
	b = append(b, q.stream...)
	b = append(b, '.')
	b = append(b, q.consumer...)
	b = append(b, '.')
	b = strconv.AppendUint(b, r.Delivered, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, r.StreamSeq, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, r.ConsumerSeq, 10)
	b = append(b, ".0.0"...)
	return string(b)
}

// AckReceipts acknowledges deliveries by their receipts and returns once the
// consumer has recorded every one (in memory: see the package herald/queue
// for how deletes are made durable). Acks on one connection reach the
// consumer in order: the last one, sent as a request, is answered after all
// of them are recorded.
func (q *Queue) AckReceipts(ctx context.Context, rs []Receipt) error {
	if len(rs) == 0 {
		return nil
	}
	for _, r := range rs[:len(rs)-1] {
		if err := q.e.nc.Publish(q.ackSubject(r), nil); err != nil {
			return fmt.Errorf("workqueue: ack: %w", err)
		}
	}
	if _, err := q.e.nc.RequestWithContext(ctx, q.ackSubject(rs[len(rs)-1]), nil); err != nil {
		return fmt.Errorf("workqueue: ack: %w", gone(err))
	}
	return nil
}

// NakReceiptAfter hands a delivery back by its receipt, to be delivered
// again d from now however long the consumer's ack wait, and returns once
// the consumer has recorded it. The delivery stays pending until then, so
// its receipt still acknowledges it.
func (q *Queue) NakReceiptAfter(ctx context.Context, r Receipt, d time.Duration) error {
	nak := []byte(`-NAK {"delay":` + strconv.FormatInt(d.Nanoseconds(), 10) + `}`)
	if _, err := q.e.nc.RequestWithContext(ctx, q.ackSubject(r), nak); err != nil {
		return fmt.Errorf("workqueue: nak: %w", gone(err))
	}
	return nil
}

// Stored is a message read from the stream without delivering it.
type Stored struct {
	Seq    uint64
	Data   []byte
	Header stream.Header
	Time   time.Time
}

// Peek returns up to n messages on subject that the consumer has not
// delivered yet, in the order it would deliver them, without delivering
// them.
func (q *Queue) Peek(ctx context.Context, subject string, n int) ([]Stored, error) {
	s, err := q.e.js.Stream(ctx, q.stream)
	if err != nil {
		return nil, gone(err)
	}
	c, err := s.Consumer(ctx, q.consumer)
	if err != nil {
		return nil, gone(err)
	}
	seq := c.CachedInfo().Delivered.Stream + 1
	var out []Stored
	for len(out) < n {
		m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, gone(err)
		}
		out = append(out, Stored{Seq: m.Sequence, Data: m.Data, Header: stream.Header(m.Header), Time: m.Time})
		seq = m.Sequence + 1
	}
	return out, nil
}
