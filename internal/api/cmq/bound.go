package cmq

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/herald-mq/herald/internal/engine"
	"github.com/herald-mq/herald/internal/queue"
)

// Engine is what the API asks of the storage engine about its health.
type Engine interface {
	// Full reports whether the engine's disk is full.
	Full() bool
	// Classify tags an engine error as engine.ErrUnavailable or
	// engine.ErrStorageFull; other errors come back as they are.
	Classify(err error) error
}

// retryPause is the wait between two tries of an action the engine could not
// serve (no stream leader yet): an election takes a few seconds.
const retryPause = 100 * time.Millisecond

// storing are the actions that add to what the engine stores; they are
// refused at once while its disk is full. Reads, receives and deletes go on,
// so that consumers can drain what fills the disk.
var storing = map[string]bool{
	"createqueue": true, "setqueueattributes": true, "rewindqueue": true,
	"sendmessage": true, "batchsendmessage": true,
	"createtopic": true, "settopicattributes": true, "subscribe": true,
	"setsubscriptionattributes": true, "clearsubscriptionfiltertags": true,
	"publishmessage": true, "batchpublishmessage": true,
}

// bound is how long a request may take: the engine retry timeout, plus the
// polling wait of a receive.
func (s *Server) bound(action string, form *Form) time.Duration {
	d := s.cfg.EngineRetryTimeout
	switch strings.ToLower(action) {
	case "receivemessage", "batchreceivemessage":
		r := queue.RangePollingWaitSeconds
		wait, err := Params{f: form}.Int("pollingWaitSeconds", r.Min, r.Max, r.Max)
		if err != nil {
			wait = r.Max
		}
		d += time.Duration(wait) * time.Second
	}
	return d
}

// run runs an action, trying it again while the engine is unavailable (a
// stream without a leader while the cluster elects one) until ctx ends; a
// failure is then engine.ErrUnavailable. A response that comes with its
// error (a batch's partial failure) is final: part of it was done.
func (s *Server) run(ctx context.Context, name string, action actionFunc, req *Request) (any, error) {
	eng := s.deps.Engine
	if eng == nil {
		return action(ctx, req)
	}
	if storing[strings.ToLower(name)] && eng.Full() {
		return nil, engine.ErrStorageFull
	}
	for {
		resp, err := action(ctx, req)
		if err == nil || resp != nil {
			return resp, err
		}
		err = eng.Classify(err)
		if !errors.Is(err, engine.ErrUnavailable) {
			return nil, err
		}
		t := s.deps.Clock.NewTimer(retryPause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C():
		}
	}
}
