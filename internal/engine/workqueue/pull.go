package workqueue

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/herald-mq/herald/internal/engine/stream"
)

// Msg is one pulled message. Settle it exactly once: Ack, Nak, NakAfter or
// Term (InProgress any number of times before).
type Msg struct {
	m *nats.Msg
	// Delivery is what the engine says about this delivery.
	Delivery Delivery
}

// Data is the message's body.
func (m *Msg) Data() []byte { return m.m.Data }

// Header is the message's headers.
func (m *Msg) Header() stream.Header { return stream.Header(m.m.Header) }

// Receipt names this delivery, to acknowledge it later with AckReceipts.
func (m *Msg) Receipt() Receipt {
	return Receipt{Delivered: m.Delivery.Delivered, StreamSeq: m.Delivery.StreamSeq, ConsumerSeq: m.Delivery.ConsumerSeq}
}

// Ack settles the message as done, without waiting for the consumer.
func (m *Msg) Ack() error { return m.m.Respond(nil) }

// Nak hands the message back, to be delivered again at once.
func (m *Msg) Nak() error { return m.m.Respond([]byte("-NAK")) }

// NakAfter hands the message back, to be delivered again after d.
func (m *Msg) NakAfter(d time.Duration) error {
	return m.m.Respond(fmt.Appendf(nil, `-NAK {"delay":%d}`, d.Nanoseconds()))
}

// InProgress restarts the message's ack wait.
func (m *Msg) InProgress() error { return m.m.Respond([]byte("+WPI")) }

// Term settles the message as never to be delivered again, saying why.
func (m *Msg) Term(reason string) error {
	if reason == "" {
		return m.m.Respond([]byte("+TERM"))
	}
	return m.m.Respond([]byte("+TERM " + reason))
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
		out = append(out, &Msg{m: m, Delivery: d})
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
