package queue

import "context"

// SetLongPollHook makes every receive call f as it starts to wait.
func SetLongPollHook(s *Service, f func()) { s.longPoll = f }

// Purge runs one janitor pass.
func Purge(ctx context.Context, s *Service) { s.purge(ctx) }

// StreamName is the engine stream of q.
func StreamName(q Queue) string { return streamName(&q) }
