package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/herald-mq/herald/client"
)

const (
	topicName = "chaos"
	queueName = "chaosq"
	// visibilityTimeout is short so that messages received but not deleted
	// when herald died come round again quickly.
	visibilityTimeout = 5
)

// setup creates the topic with an HTTP subscription per receiver, and the
// queue.
func setup(ctx context.Context, c *client.Client, receivers ...*receiver) error {
	if _, err := c.CreateTopic(ctx, client.CreateTopicRequest{TopicName: topicName}); err != nil {
		return fmt.Errorf("create topic: %w", err)
	}
	for _, r := range receivers {
		if _, err := c.Subscribe(ctx, client.SubscribeRequest{TopicName: topicName, SubscriptionName: r.name,
			Protocol: "http", Endpoint: r.URL()}); err != nil {
			return fmt.Errorf("subscribe %s: %w", r.name, err)
		}
	}
	vt := visibilityTimeout
	if _, err := c.CreateQueue(ctx, client.CreateQueueRequest{QueueName: queueName, VisibilityTimeout: &vt}); err != nil {
		return fmt.Errorf("create queue: %w", err)
	}
	return nil
}

// load drives herald through the API: publishers and queue senders (the
// producers) and queue consumers that receive and delete. Every request
// goes to one of clients, chosen at random.
type load struct {
	clients     []*client.Client
	ledger      *ledger
	publishRate float64 // publishes per second, all publishers together
	sendRate    float64 // queue sends per second
	seq         atomic.Int64
}

const (
	publishers = 4
	senders    = 2
	consumers  = 2
	// errorPause keeps a worker from spinning while herald is down.
	errorPause = 50 * time.Millisecond
)

// produce publishes and sends until ctx ends.
func (l *load) produce(ctx context.Context) {
	var wg sync.WaitGroup
	pub := rate.NewLimiter(rate.Limit(l.publishRate), 1)
	send := rate.NewLimiter(rate.Limit(l.sendRate), 1)
	for range publishers {
		wg.Go(func() { l.loop(ctx, pub, l.publishOne) })
	}
	for range senders {
		wg.Go(func() { l.loop(ctx, send, l.sendOne) })
	}
	wg.Wait()
}

// consume receives and deletes until ctx ends.
func (l *load) consume(ctx context.Context) {
	var wg sync.WaitGroup
	for range consumers {
		wg.Go(func() { l.loop(ctx, nil, l.receiveAndDelete) })
	}
	wg.Wait()
}

// loop runs one worker: wait for the limiter (if any), do, and pause after
// an error.
func (l *load) loop(ctx context.Context, lim *rate.Limiter, do func(context.Context) error) {
	for ctx.Err() == nil {
		if lim != nil && lim.Wait(ctx) != nil {
			return
		}
		if do(ctx) != nil {
			sleep(ctx, errorPause)
		}
	}
}

func (l *load) pick() *client.Client { return l.clients[rand.IntN(len(l.clients))] }

func (l *load) publishOne(ctx context.Context) error {
	res, err := l.pick().PublishMessage(ctx, client.PublishMessageRequest{
		TopicName: topicName, MsgBody: fmt.Sprintf("p-%d", l.seq.Add(1))})
	if err != nil {
		if ctx.Err() == nil {
			l.ledger.Failed(func(c *counts) { c.publish++ })
		}
		return err
	}
	l.ledger.Published(res.MsgID)
	return nil
}

func (l *load) sendOne(ctx context.Context) error {
	res, err := l.pick().SendMessage(ctx, client.SendMessageRequest{
		QueueName: queueName, MsgBody: fmt.Sprintf("q-%d", l.seq.Add(1))})
	if err != nil {
		if ctx.Err() == nil {
			l.ledger.Failed(func(c *counts) { c.send++ })
		}
		return err
	}
	l.ledger.Sent(res.MsgID)
	return nil
}

func (l *load) receiveAndDelete(ctx context.Context) error {
	c := l.pick()
	wait := 1
	requested := l.ledger.now()
	res, err := c.BatchReceiveMessage(ctx, client.BatchReceiveMessageRequest{
		QueueName: queueName, NumOfMsg: 16, PollingWaitSeconds: &wait})
	switch {
	case errors.Is(err, client.ErrNoMessage):
		return nil
	case err != nil:
		if ctx.Err() == nil {
			l.ledger.Failed(func(c *counts) { c.receive++ })
		}
		return err
	}
	for _, m := range res.MsgInfoList {
		l.ledger.Received(m.MsgID, receipt{requested: requested, dequeueCount: m.DequeueCount})
	}
	for _, m := range res.MsgInfoList {
		_, err := c.DeleteMessage(ctx, client.DeleteMessageRequest{QueueName: queueName, ReceiptHandle: m.ReceiptHandle})
		if err != nil {
			if ctx.Err() == nil {
				l.ledger.Failed(func(c *counts) { c.delete++ })
			}
			continue
		}
		l.ledger.Deleted(m.MsgID, receipt{requested: requested, dequeueCount: m.DequeueCount})
	}
	return nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
