package queue

import "errors"

// ErrNotRunning is the queue service not started, or stopped.
var ErrNotRunning = errors.New("queue: the service is not running")

// Ready reports whether the service runs (its janitor purges deleted
// messages): nil, or ErrNotRunning.
func (s *Service) Ready() error {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if s.stop == nil {
		return ErrNotRunning
	}
	select {
	case <-s.stopped:
		return ErrNotRunning
	default:
		return nil
	}
}
