package queue

import "context"

// SetLongPollHook makes every receive call f as it starts to wait.
func SetLongPollHook(s *Service, f func()) { s.longPoll = f }

// Purge runs one janitor pass.
func Purge(ctx context.Context, s *Service) { s.purge(ctx) }

// StreamName is the engine stream of q.
func StreamName(q Queue) string { return streamName(&q) }

// ForgetConsumerState replaces q's consumer by a new one, as an engine that
// died before writing the consumer's state would bring it back at worst:
// no delivery and no acknowledgement known.
func ForgetConsumerState(ctx context.Context, s *Service, q Queue) error {
	return s.work(&q).RecreateConsumer(ctx, s.consumerConfig(&q))
}
