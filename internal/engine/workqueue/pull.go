package workqueue

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/herald-mq/herald/internal/engine/stream"
)

// Msg is one message taken from a work queue (pulled, or pushed to a
// Consume handler). Settle it exactly once: Ack, AckSync, Nak, NakAfter,
// NakAfterSync or Term (InProgress any number of times before).
type Msg struct {
	m  *nats.Msg     // a pulled message
	js jetstream.Msg // a consumed message
	nc *nats.Conn
	// Delivery is what the engine says about this delivery.
	Delivery Delivery
}

// Data is the message's body.
func (m *Msg) Data() []byte {
	if m.js != nil {
		return m.js.Data()
	}
	return m.m.Data
}

// Header is the message's headers.
func (m *Msg) Header() stream.Header {
	if m.js != nil {
		return stream.Header(m.js.Headers())
	}
	return stream.Header(m.m.Header)
}

// Subject is the subject the message was stored on.
func (m *Msg) Subject() string {
	if m.js != nil {
		return m.js.Subject()
	}
	return m.m.Subject
}

func (m *Msg) reply() string {
	if m.js != nil {
		return m.js.Reply()
	}
	return m.m.Reply
}

// Receipt names this delivery, to acknowledge it later with AckReceipts.
func (m *Msg) Receipt() Receipt {
	return Receipt{Delivered: m.Delivery.Delivered, StreamSeq: m.Delivery.StreamSeq, ConsumerSeq: m.Delivery.ConsumerSeq}
}

// settle sends body on the message's acknowledgement subject.
func (m *Msg) settle(body []byte) error {
	if m.m != nil {
		return m.m.Respond(body)
	}
	return m.nc.Publish(m.reply(), body)
}

// settleSync sends body and waits until the engine confirms it has it.
func (m *Msg) settleSync(ctx context.Context, body []byte) error {
	if _, err := m.nc.RequestWithContext(ctx, m.reply(), body); err != nil {
		return fmt.Errorf("workqueue: settle: %w", err)
	}
	return nil
}

// Ack settles the message as done, without waiting for the consumer.
func (m *Msg) Ack() error {
	if m.js != nil {
		return m.js.Ack()
	}
	return m.settle(nil)
}

// AckSync settles the message as done and waits until the consumer has it
// (before the engine closes, say).
func (m *Msg) AckSync(ctx context.Context) error {
	if m.js != nil {
		return m.js.DoubleAck(ctx)
	}
	return m.settleSync(ctx, []byte("+ACK"))
}

// Nak hands the message back, to be delivered again at once.
func (m *Msg) Nak() error {
	if m.js != nil {
		return m.js.Nak()
	}
	return m.settle([]byte("-NAK"))
}

func nakBody(d time.Duration) []byte { return fmt.Appendf(nil, `-NAK {"delay": %d}`, d.Nanoseconds()) }

// NakAfter hands the message back, to be delivered again after d. Unlike a
// plain Nak, the engine records a nak with a delay with the consumer's
// state.
func (m *Msg) NakAfter(d time.Duration) error {
	if m.js != nil {
		return m.js.NakWithDelay(d)
	}
	return m.settle(nakBody(d))
}

// NakAfterSync is NakAfter waiting until the consumer has the nak.
func (m *Msg) NakAfterSync(ctx context.Context, d time.Duration) error {
	return m.settleSync(ctx, nakBody(d))
}

// InProgress restarts the message's ack wait.
func (m *Msg) InProgress() error {
	if m.js != nil {
		return m.js.InProgress()
	}
	return m.settle([]byte("+WPI"))
}

// Term settles the message as never to be delivered again, saying why (or
// not, with "").
func (m *Msg) Term(reason string) error {
	if m.js != nil {
		if reason == "" {
			return m.js.Term()
		}
		return m.js.TermWithReason(reason)
	}
	if reason == "" {
		return m.settle([]byte("+TERM"))
	}
	return m.settle([]byte("+TERM " + reason))
}

// NakAll hands msgs back, to be delivered again at once.
func NakAll(msgs []*Msg) {
	for _, m := range msgs {
		_ = m.Nak()
	}
}

// Pull is one pull request for up to n messages that the engine answers as
// soon as it has any, or after wait with none (an empty result, no error).
// A message that arrives after ctx ended is handed back at once. waiting,
// when not nil, is called once the request is sent (tests).
func (q *Queue) Pull(ctx context.Context, n int, wait time.Duration, waiting func()) ([]*Msg, error) {
	nc := q.e.nc
	inbox := nc.NewInbox()
	ch := make(chan *nats.Msg, n+2)
	sub, err := nc.ChanSubscribe(inbox, ch)
	if err != nil {
		return nil, fmt.Errorf("workqueue: pull: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	req := fmt.Appendf(nil, `{"batch":%d,"expires":%d,"no_wait":true}`, n, wait.Nanoseconds())
	if err := nc.PublishRequest("$JS.API.CONSUMER.MSG.NEXT."+q.stream+"."+q.consumer, inbox, req); err != nil {
		return nil, fmt.Errorf("workqueue: pull: %w", err)
	}
	if waiting != nil {
		waiting()
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
				case "404", "408": // no messages; request expired
					return q.wrap(out), nil
				default:
					if len(out) > 0 {
						return q.wrap(out), nil
					}
					return nil, pullErr(code, m.Header.Get("Description"))
				}
			}
			out = append(out, m)
		case <-ctx.Done():
			_ = sub.Unsubscribe()
			for len(ch) > 0 {
				out = append(out, <-ch)
			}
			for _, m := range out {
				_ = m.Respond([]byte("-NAK"))
			}
			return nil, ctx.Err()
		case <-timer.C:
			return q.wrap(out), nil
		}
	}
	return q.wrap(out), nil
}

// wrap reads each message's delivery; a message without one (not from a
// consumer) is dropped.
func (q *Queue) wrap(ms []*nats.Msg) []*Msg {
	out := make([]*Msg, 0, len(ms))
	for _, m := range ms {
		d, ok := parseDelivery(m.Reply)
		if !ok {
			continue
		}
		out = append(out, &Msg{m: m, nc: q.e.nc, Delivery: d})
	}
	return out
}

func pullErr(code, desc string) error {
	switch {
	case code == "409" && desc == "Exceeded MaxWaiting":
		return ErrTooManyWaiting
	case code == "409" && desc == "Consumer Deleted":
		return fmt.Errorf("workqueue: pull: %w: %s %s", ErrGone, code, desc)
	case code == "503": // the stream is known, its consumer has no leader (yet)
		return fmt.Errorf("workqueue: pull: %w", nats.ErrNoResponders)
	}
	return fmt.Errorf("workqueue: pull: engine answered %s %s", code, desc)
}
