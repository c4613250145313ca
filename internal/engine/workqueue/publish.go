package workqueue

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/herald-mq/herald/internal/engine/stream"
)

// HeaderDedupID is the header under which a message's id makes a second
// copy within the stream's duplicate window not stored again.
const HeaderDedupID = jetstream.MsgIDHeader

// NewID is a random id unique across processes (22 characters of
// [0-9A-Za-z]).
func NewID() string { return nats.NewInbox()[len(nats.InboxPrefix):] }

// Publish stores msgs, pipelined, and returns their stream sequences once
// the engine acknowledged every one. On an error the sequences of those
// acknowledged are filled in (0 for the others).
func (e *Engine) Publish(ctx context.Context, msgs []stream.Msg) ([]uint64, error) {
	if len(msgs) == 1 {
		ack, err := e.js.PublishMsg(ctx, natsMsg(msgs[0]))
		if err != nil {
			return nil, gone(err)
		}
		return []uint64{ack.Sequence}, nil
	}
	return e.PublishAsync(msgs).Wait(ctx)
}

// Pending is a pipelined publish: its acknowledgements to come, or why
// they will not.
type Pending struct {
	n       int
	futures []jetstream.PubAckFuture
	err     error
}

// PublishAsync starts storing msgs; Wait waits for them.
func (e *Engine) PublishAsync(msgs []stream.Msg) *Pending {
	p := &Pending{n: len(msgs), futures: make([]jetstream.PubAckFuture, 0, len(msgs))}
	for _, m := range msgs {
		f, err := e.js.PublishMsgAsync(natsMsg(m))
		if err != nil {
			p.err = err
			break
		}
		p.futures = append(p.futures, f)
	}
	return p
}

// Wait returns the stream sequences of the messages once every one is
// acknowledged, or the first refusal.
func (p *Pending) Wait(ctx context.Context) ([]uint64, error) {
	seqs := make([]uint64, p.n)
	firstErr := p.err
	for i, f := range p.futures {
		select {
		case ack := <-f.Ok():
			seqs[i] = ack.Sequence
		case err := <-f.Err():
			if firstErr == nil {
				firstErr = err
			}
		case <-ctx.Done():
			return seqs, ctx.Err()
		}
	}
	if firstErr != nil {
		return seqs, fmt.Errorf("workqueue: publish: %w", gone(firstErr))
	}
	return seqs, nil
}

func natsMsg(m stream.Msg) *nats.Msg {
	return &nats.Msg{Subject: m.Subject, Header: nats.Header(m.Header), Data: m.Data}
}
