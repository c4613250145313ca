package workqueue

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Consumer is a durable consumer whose messages are pushed to a handler as
// they come (a continuous pull): the fan-out and retry consumers.
type Consumer struct {
	e *Engine
	c jetstream.Consumer
}

// Consumer creates (or updates to cc) the durable consumer cc.Name on the
// stream named streamName.
func (e *Engine) Consumer(ctx context.Context, streamName string, cc ConsumerConfig) (*Consumer, error) {
	c, err := e.js.CreateOrUpdateConsumer(ctx, streamName, cc.jetStream())
	if err != nil {
		return nil, fmt.Errorf("workqueue: consumer %s: %w", cc.Name, gone(err))
	}
	return &Consumer{e: e, c: c}, nil
}

// Name is the consumer's durable name.
func (c *Consumer) Name() string { return c.c.CachedInfo().Name }

// Consumption is a running Consume.
type Consumption struct {
	cc jetstream.ConsumeContext
}

// Consume calls handle with each message, from the engine's goroutines,
// keeping up to batch messages fetched ahead. onErr hears what goes wrong
// on the way (missed heartbeats of an idle connection are not reported).
func (c *Consumer) Consume(handle func(*Msg), batch int, onErr func(error)) (*Consumption, error) {
	cc, err := c.c.Consume(func(m jetstream.Msg) {
		d, _ := parseDelivery(m.Reply())
		handle(&Msg{js: m, nc: c.e.nc, Delivery: d})
	}, jetstream.PullMaxMessages(batch), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if !errors.Is(err, jetstream.ErrNoHeartbeat) {
			onErr(err)
		}
	}))
	if err != nil {
		return nil, fmt.Errorf("workqueue: consume: %w", err)
	}
	return &Consumption{cc: cc}, nil
}

// Drain stops fetching; the messages already fetched are handed back. Closed
// is closed once it is done.
func (c *Consumption) Drain() { c.cc.Drain() }

// Stop stops at once.
func (c *Consumption) Stop() { c.cc.Stop() }

// Closed is closed once the consumption has ended.
func (c *Consumption) Closed() <-chan struct{} { return c.cc.Closed() }

// Wrap returns the Msg a Consume handler would get for m, a message a
// JetStream consumer delivered; tests of handlers use it to offer a message
// again as the engine would after a lost acknowledgement.
func Wrap(m jetstream.Msg, d Delivery) *Msg { return &Msg{js: m, Delivery: d} }
