// Package stream publishes to the engine's streams with acknowledgement,
// alone or as atomic batches, and reads and deletes stored messages by
// sequence. Its users see subjects, headers and bodies; the JetStream
// protocol (reply subjects, batch headers, API error codes) stays here.
package stream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Header is a message's headers. It converts to and from nats.Header at no
// cost; Get and Set keep keys as given (no canonical form).
type Header map[string][]string

// Get returns the first value of key, or "".
func (h Header) Get(key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Set replaces key's values with value.
func (h Header) Set(key, value string) { h[key] = []string{value} }

// Msg is one message to publish.
type Msg struct {
	Subject string
	Header  Header
	Data    []byte
}

// Errors of publishing.
var (
	// ErrAtomicDisabled: the stream does not allow atomic batches (nothing
	// of the batch was stored).
	ErrAtomicDisabled error = &jetstream.APIError{ErrorCode: 10174}
	// ErrAtomicTooMany: the engine has too many atomic batches in flight;
	// nothing of the batch was stored and it may be tried again.
	ErrAtomicTooMany error = &jetstream.APIError{ErrorCode: 10210}
	// ErrAckTimeout: no acknowledgement in the time allowed; the messages may
	// or may not be stored.
	ErrAckTimeout = errors.New("stream: the engine did not acknowledge the publish in time")
)

// Publisher publishes messages and waits for the engine to acknowledge
// them, collecting every acknowledgement on one subscription.
type Publisher struct {
	nc   *nats.Conn
	acks *acks
}

// NewPublisher subscribes to acknowledgements on nc for as long as the
// connection lives.
func NewPublisher(nc *nats.Conn) (*Publisher, error) {
	a, err := newAcks(nc)
	if err != nil {
		return nil, err
	}
	return &Publisher{nc: nc, acks: a}, nil
}

// Each publishes n messages, each stored on its own, and returns once the
// engine acknowledged every one, at the first refusal (which names the
// message, counted from 1), or after wait. fill sets message i into m; m is
// reused for the next message once fill's message is sent, so fill may keep
// one Header map for all.
func (p *Publisher) Each(ctx context.Context, n int, wait time.Duration, fill func(i int, m *Msg)) error {
	c := p.acks.start(n, n, true)
	var m Msg
	nm := &nats.Msg{}
	for i := range n {
		fill(i, &m)
		nm.Subject, nm.Header, nm.Data, nm.Reply = m.Subject, nats.Header(m.Header), m.Data, c.replyTo(i)
		if err := p.nc.PublishMsg(nm); err != nil {
			p.acks.forget(c)
			return fmt.Errorf("stream: publish: %w", err)
		}
	}
	return p.acks.wait(ctx, c, wait)
}

// Headers of JetStream's atomic batch publish.
const (
	headerBatchID     = "Nats-Batch-Id"
	headerBatchSeq    = "Nats-Batch-Sequence"
	headerBatchCommit = "Nats-Batch-Commit"
)

// Atomic publishes n messages as one atomic batch named id: the engine
// stages them and stores all of them when the last one, the commit,
// arrives, or none. Only the first message and the commit are
// acknowledged: the first says whether the engine took the batch on
// (ErrAtomicTooMany when too many are in flight, ErrAtomicDisabled when the
// stream does not allow batches), the commit whether it is stored. fill is
// as for Each; the batch headers are added to what it sets.
func (p *Publisher) Atomic(ctx context.Context, id string, n int, wait time.Duration, fill func(i int, m *Msg)) error {
	c := p.acks.start(n, 2, false)
	var m Msg
	nm := &nats.Msg{}
	for i := range n {
		fill(i, &m)
		h := nats.Header(m.Header)
		h[headerBatchID] = []string{id}
		h[headerBatchSeq] = []string{strconv.Itoa(i + 1)}
		if i == n-1 {
			h[headerBatchCommit] = []string{"1"}
		} else {
			delete(h, headerBatchCommit)
		}
		nm.Subject, nm.Header, nm.Data, nm.Reply = m.Subject, h, m.Data, ""
		if i == 0 || i == n-1 {
			nm.Reply = c.replyTo(i)
		}
		if err := p.nc.PublishMsg(nm); err != nil {
			// The engine drops the staged part when the batch times out.
			p.acks.forget(c)
			return fmt.Errorf("stream: publish: %w", err)
		}
	}
	return p.acks.wait(ctx, c, wait)
}
