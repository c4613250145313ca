package delivery

import (
	"context"
	"errors"
	"time"

	"github.com/herald-mq/herald/internal/topic"
)

// Attempt is one try at delivering one message to one subscription.
type Attempt struct {
	Sub        *topic.Subscription
	MsgID      string
	Body       []byte
	Tags       []string
	RoutingKey string
	Published  time.Time
	// Number counts attempts, from 1.
	Number int
	// DeliveryID is the same for every attempt of this message to this
	// subscription (Standard Webhooks' webhook-id).
	DeliveryID string
}

// Outcome is how an attempt ended.
type Outcome struct {
	Delivered bool
	// SignatureRejected: the endpoint answered 403 to a signed push.
	SignatureRejected bool
	Status            int
	Err               error
}

// Sender starts HTTP attempts without blocking.
type Sender interface {
	// TrySend starts the attempt and reports false, without calling done,
	// when the endpoint is saturated. Otherwise done is called exactly once.
	TrySend(a Attempt, done func(Outcome)) bool
}

// ErrUndeliverable marks a failure no retry can mend (the target queue is
// gone, the body is too big for it): the message is given up at once.
var ErrUndeliverable = errors.New("delivery: undeliverable")

// Backoffer is a Sender that knows how long a refused attempt should wait:
// about as long as its endpoint needs to work through what it holds.
type Backoffer interface {
	Backoff(sub *topic.Subscription) time.Duration
}

// QueueSink puts a message into a queue (protocol=queue subscriptions). An
// error wrapping ErrUndeliverable gives the message up; any other is retried
// by the subscription's policy.
type QueueSink interface {
	Enqueue(ctx context.Context, appID int64, queueName string, body []byte, msgID string) error
}

// RetryPolicy says when the next attempt is due.
type RetryPolicy interface {
	// Next returns the time of attempt number attempt+1 after attempt number
	// attempt failed at now, or false to give up.
	Next(attempt int, published, now time.Time) (time.Time, bool)
}

// Subscriptions finds the current subscriptions of a topic.
type Subscriptions interface {
	Subscriptions(appID int64, topicName string) []*topic.Subscription
	TopicFromIndex(appID int64, name string) (topic.Topic, bool)
	// WaitRevisions waits until the subscriptions known here are at least
	// as recent as those the publisher knew.
	WaitRevisions(ctx context.Context, topics, subs uint64) error
	// Subscription reads one subscription from the bucket (the index may lag
	// another process's writes).
	Subscription(ctx context.Context, appID int64, topicName, name string) (topic.Subscription, error)
}

// Recorder keeps the counts operators watch: messages given up, and
// signatures the endpoint rejected.
type Recorder interface {
	GaveUp(ctx context.Context, sub *topic.Subscription, msgID string, reason error)
	SignatureRejected(ctx context.Context, sub *topic.Subscription)
}
