package delivery

import "errors"

// ErrNotRunning is a consumer of the service not running.
var ErrNotRunning = errors.New("delivery: the fan-out and retry consumers are not running")

// Ready reports whether the fan-out and retry consumers run: nil, or
// ErrNotRunning.
func (s *Service) Ready() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.contexts) == 0 {
		return ErrNotRunning
	}
	for _, cc := range s.contexts {
		select {
		case <-cc.Closed():
			return ErrNotRunning
		default:
		}
	}
	return nil
}
