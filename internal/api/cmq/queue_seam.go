package cmq

import "context"

// Queues is the queue service as the API uses it.
type Queues interface {
	// CheckQueue reports whether the account has the queue (Subscribe with
	// protocol=queue).
	CheckQueue(ctx context.Context, appID int64, name string) error
}

func (s *Server) addQueueActions() {}
