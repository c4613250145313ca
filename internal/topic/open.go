package topic

import (
	"context"
	"log/slog"

	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/engine"
)

// Open opens the store on its buckets and the publisher on the message
// stream of eng, creating what does not exist yet. Close the store when done.
func Open(ctx context.Context, eng *engine.Engine, clk clock.Clock, log *slog.Logger) (*Store, *Publisher, error) {
	topics, err := eng.Bucket(ctx, TopicBucket, 1)
	if err != nil {
		return nil, nil, err
	}
	subs, err := eng.Bucket(ctx, SubscriptionBucket, 1)
	if err != nil {
		return nil, nil, err
	}
	store, err := OpenStore(ctx, topics, subs, clk, log)
	if err != nil {
		return nil, nil, err
	}
	pub, err := NewPublisher(ctx, store, eng)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return store, pub, nil
}
