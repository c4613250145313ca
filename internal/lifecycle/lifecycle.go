// Package lifecycle starts herald's services in order and stops them in
// reverse, one contract for all: Start(ctx) starts a service and returns
// once it runs (ctx bounds the start, not the run: an ended ctx refuses or
// cuts short the start); Stop(ctx) stops it, waiting for its work in flight
// until ctx ends.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// Service is started and stopped with herald.
type Service interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// Named is a service with the name its errors and logs carry.
type Named struct {
	Name    string
	Service Service
}

// Funcs makes a Service of two functions; a nil one does nothing.
type Funcs struct {
	StartFunc func(ctx context.Context) error
	StopFunc  func(ctx context.Context) error
}

// Start calls StartFunc.
func (f Funcs) Start(ctx context.Context) error {
	if f.StartFunc == nil {
		return ctx.Err()
	}
	return f.StartFunc(ctx)
}

// Stop calls StopFunc.
func (f Funcs) Stop(ctx context.Context) error {
	if f.StopFunc == nil {
		return nil
	}
	return f.StopFunc(ctx)
}

// Running is the services started, to be stopped in reverse.
type Running struct {
	log     *slog.Logger
	started []Named
}

// Start starts services in order. If one fails (or ctx ends first), those
// already started are stopped in reverse, with stopCtx for their stop, and
// the failure is returned.
func Start(ctx context.Context, stopCtx func() (context.Context, context.CancelFunc), log *slog.Logger, services ...Named) (*Running, error) {
	r := &Running{log: log}
	for _, s := range services {
		err := ctx.Err()
		if err == nil {
			err = s.Service.Start(ctx)
		}
		if err != nil {
			sctx, cancel := stopCtx()
			defer cancel()
			if serr := r.Stop(sctx); serr != nil {
				log.Warn("stopping after a failed start", "err", serr)
			}
			return nil, fmt.Errorf("start %s: %w", s.Name, err)
		}
		r.started = append(r.started, s)
	}
	return r, nil
}

// Stop stops the services started, last first, each with ctx, and returns
// their errors joined; every service is asked to stop even when an
// earlier one failed to.
func (r *Running) Stop(ctx context.Context) error {
	var errs []error
	for i := len(r.started) - 1; i >= 0; i-- {
		s := r.started[i]
		if err := s.Service.Stop(ctx); err != nil {
			r.log.Warn("stop", "service", s.Name, "err", err)
			errs = append(errs, fmt.Errorf("stop %s: %w", s.Name, err))
		}
	}
	r.started = nil
	return errors.Join(errs...)
}
