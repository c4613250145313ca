package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// acks collects the engine's replies to published messages on one wildcard
// subscription and hands each to the publish waiting for it. It replaces a
// jetstream.PubAckFuture per message (a map entry, channels and a decoded
// JSON acknowledgement each) with one waiter per publish call and a decode
// only of refusals. The subscription lives as long as the connection.
type acks struct {
	prefix string // "<inbox>."; a reply subject is prefix + "<call>.<index>"
	mu     sync.Mutex
	next   uint64
	calls  map[uint64]*ackCall
}

func newAcks(nc *nats.Conn) (*acks, error) {
	a := &acks{prefix: nats.NewInbox() + ".", calls: map[uint64]*ackCall{}}
	if _, err := nc.Subscribe(a.prefix+"*.*", a.handle); err != nil {
		return nil, fmt.Errorf("stream: subscribe to publish acknowledgements: %w", err)
	}
	return a, nil
}

// ackCall is one publish call's wait for the replies to n of its messages.
type ackCall struct {
	id     uint64
	reply  string // the reply subject without the message index
	mu     sync.Mutex
	left   int
	errs   []error // by message index
	failed bool
	done   chan struct{}
	// failFast ends the wait at the first refusal (the caller will fail
	// anyway); otherwise it waits for every reply.
	failFast bool
}

// start registers a call waiting for want replies to messages indexed below n.
func (a *acks) start(n, want int, failFast bool) *ackCall {
	c := &ackCall{left: want, errs: make([]error, n), done: make(chan struct{}), failFast: failFast}
	a.mu.Lock()
	a.next++
	c.id = a.next
	a.calls[c.id] = c
	a.mu.Unlock()
	c.reply = a.prefix + strconv.FormatUint(c.id, 36) + "."
	return c
}

// replyTo is the reply subject of the call's message i.
func (c *ackCall) replyTo(i int) string { return c.reply + strconv.Itoa(i) }

// wait waits until every expected reply came, or (failFast) the first
// refusal, and returns the first refusal by message index.
func (a *acks) wait(ctx context.Context, c *ackCall, timeout time.Duration) error {
	defer a.forget(c)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-c.done:
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return ErrAckTimeout
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, err := range c.errs {
		if err != nil {
			return &notStoredError{index: i, err: err}
		}
	}
	return nil
}

// forget drops c; replies that still come for it are ignored.
func (a *acks) forget(c *ackCall) {
	a.mu.Lock()
	delete(a.calls, c.id)
	a.mu.Unlock()
}

func (a *acks) handle(m *nats.Msg) {
	call, index, ok := strings.Cut(m.Subject[len(a.prefix):], ".")
	if !ok {
		return
	}
	id, err := strconv.ParseUint(call, 36, 64)
	if err != nil {
		return
	}
	i, err := strconv.Atoi(index)
	if err != nil {
		return
	}
	a.mu.Lock()
	c := a.calls[id]
	a.mu.Unlock()
	if c != nil {
		c.resolve(i, ackError(m))
	}
}

func (c *ackCall) resolve(i int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left == 0 || i < 0 || i >= len(c.errs) {
		return
	}
	if err != nil {
		c.errs[i] = err
		if c.failFast && !c.failed {
			c.failed = true
			close(c.done)
		}
	}
	c.left--
	if c.left == 0 && !c.failed {
		close(c.done)
	}
}

var (
	errBadAck   = errors.New("stream: unreadable acknowledgement from the engine")
	quoteError  = []byte(`"error"`)
	quoteStream = []byte(`"stream"`)
)

// ackError reads one reply: nil for a stored message (a PubAck) or a staged
// message of an atomic batch (an empty reply), the engine's refusal
// otherwise. Only refusals are decoded.
func ackError(m *nats.Msg) error {
	if len(m.Data) == 0 {
		if m.Header.Get("Status") == "503" {
			return jetstream.ErrNoStreamResponse
		}
		if len(m.Header) > 0 {
			return fmt.Errorf("%w: status %s %s", errBadAck, m.Header.Get("Status"), m.Header.Get("Description"))
		}
		return nil
	}
	// Stream names cannot hold a quote, so a PubAck contains "error" only
	// when it is a refusal.
	if !bytes.Contains(m.Data, quoteError) && bytes.Contains(m.Data, quoteStream) {
		return nil
	}
	var r struct {
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(m.Data, &r); err != nil || r.Error == nil {
		return errBadAck
	}
	return r.Error
}

// notStoredError is an engine's refusal of message index of a publish.
type notStoredError struct {
	index int
	err   error
}

func (e *notStoredError) Error() string {
	return fmt.Sprintf("message %d not stored: %v", e.index+1, e.err)
}

func (e *notStoredError) Unwrap() error { return e.err }
