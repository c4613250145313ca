package client

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Handler handles one received message. Returning nil deletes it; an error
// leaves it in the queue, to be received again once its visibility timeout
// runs out (and dead-lettered after maxReceiveCount receives, where the queue
// has a dead-letter policy).
type Handler func(ctx context.Context, m Message) error

// ConsumeConfig tunes Consume.
type ConsumeConfig struct {
	// QueueName is the queue to consume. Required.
	QueueName string
	// Concurrency is how many messages are handled at once. Defaults to 1.
	Concurrency int
	// Batch is how many messages one receive asks for (1–16). Defaults to
	// Concurrency, at most 16.
	Batch int
	// PollingWaitSeconds is the long poll of each receive (1–30). Defaults
	// to 30.
	PollingWaitSeconds int
	// NoWait receives without long polling, overriding PollingWaitSeconds.
	// Defaults to false.
	NoWait bool
	// StopTimeout bounds how long, once ctx ends, the handlers of messages
	// already received get to finish and their deletes to be sent. Defaults
	// to 30 seconds.
	StopTimeout time.Duration
	// OnError is told of receive and delete failures (Consume carries on,
	// pausing briefly after a failed receive). Defaults to ignoring them.
	OnError func(error)
}

func (c ConsumeConfig) withDefaults() ConsumeConfig {
	c.Concurrency = cmp.Or(c.Concurrency, 1)
	c.Batch = cmp.Or(c.Batch, min(c.Concurrency, 16))
	c.PollingWaitSeconds = cmp.Or(c.PollingWaitSeconds, 30)
	if c.NoWait {
		c.PollingWaitSeconds = 0
	}
	c.StopTimeout = cmp.Or(c.StopTimeout, 30*time.Second)
	if c.OnError == nil {
		c.OnError = func(error) {}
	}
	return c
}

func (c ConsumeConfig) validate() error {
	switch {
	case c.QueueName == "":
		return errors.New("client: ConsumeConfig.QueueName is required")
	case c.Concurrency < 1:
		return errors.New("client: ConsumeConfig.Concurrency must be at least 1")
	case c.Batch < 1 || c.Batch > 16:
		return errors.New("client: ConsumeConfig.Batch must be 1..16")
	case c.PollingWaitSeconds < 0 || c.PollingWaitSeconds > 30:
		return errors.New("client: ConsumeConfig.PollingWaitSeconds must be 0..30")
	}
	return nil
}

// receiveRetryDelay is the pause after a failed receive.
const receiveRetryDelay = time.Second

// Consume receives messages from a queue and hands each to h, Concurrency
// at a time, deleting those h returns nil for, until ctx ends. It then stops
// receiving (a long poll under way is cut short; what it had taken comes
// back after the visibility timeout), lets the handlers of the messages
// already received finish (with a context that ends StopTimeout later),
// sends their deletes and returns nil. It returns an error at once for a bad
// config, or when the queue does not exist.
func (c *Client) Consume(ctx context.Context, cfg ConsumeConfig, h Handler) error {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return err
	}
	// Handlers and deletes outlive ctx by up to StopTimeout.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(cfg.StopTimeout, cancelWork)
		context.AfterFunc(work, func() { t.Stop() })
	})
	defer stop()

	slots := make(chan struct{}, cfg.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for ctx.Err() == nil {
		// Ask for no more than there are free handlers.
		free := 0
		select {
		case slots <- struct{}{}:
			free = 1
		case <-ctx.Done():
			return nil
		}
	fill:
		for free < cfg.Batch {
			select {
			case slots <- struct{}{}:
				free++
			default:
				break fill
			}
		}
		msgs, err := c.receive(ctx, cfg, free)
		for range free - len(msgs) {
			<-slots
		}
		switch {
		case errors.Is(err, ErrNoMessage), ctx.Err() != nil:
			continue
		case errors.Is(err, ErrQueueNotExist):
			return fmt.Errorf("client: consume %s: %w", cfg.QueueName, err)
		case err != nil:
			cfg.OnError(fmt.Errorf("client: receive from %s: %w", cfg.QueueName, err))
			select {
			case <-time.After(receiveRetryDelay):
			case <-ctx.Done():
			}
			continue
		}
		for _, m := range msgs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				if h(work, m) != nil {
					return
				}
				_, err := c.DeleteMessage(work, DeleteMessageRequest{QueueName: cfg.QueueName, ReceiptHandle: m.ReceiptHandle})
				if err != nil {
					cfg.OnError(fmt.Errorf("client: delete %s from %s: %w", m.MsgID, cfg.QueueName, err))
				}
			}()
		}
	}
	return nil
}

// receive takes up to n messages.
func (c *Client) receive(ctx context.Context, cfg ConsumeConfig, n int) ([]Message, error) {
	wait := cfg.PollingWaitSeconds
	if n == 1 {
		r, err := c.ReceiveMessage(ctx, ReceiveMessageRequest{QueueName: cfg.QueueName, PollingWaitSeconds: &wait})
		if err != nil {
			return nil, err
		}
		return []Message{r.Message}, nil
	}
	r, err := c.BatchReceiveMessage(ctx, BatchReceiveMessageRequest{QueueName: cfg.QueueName, NumOfMsg: n, PollingWaitSeconds: &wait})
	if err != nil {
		return nil, err
	}
	return r.MsgInfoList, nil
}
