package server

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/herald-mq/herald/internal/delivery"
	"github.com/herald-mq/herald/internal/engine"
	"github.com/herald-mq/herald/internal/queue"
)

// readiness is one thing /readyz checks: nil when ready, or why not.
type readiness func(ctx context.Context) error

// readyHandler answers 200 "ok" when every check passes, and 503 with the
// first failure's reason otherwise. /healthz only says the process is alive;
// /readyz says it can take writes.
func readyHandler(checks ...readiness) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		for _, check := range checks {
			if err := check(ctx); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = io.WriteString(w, err.Error()+"\n")
				return
			}
		}
		_, _ = io.WriteString(w, "ok\n")
	})
}

// ready turns a check that needs no context into a readiness.
func ready(check func() error) readiness {
	return func(context.Context) error { return check() }
}

// readyChecks are /readyz's checks: the engine takes writes, the queue
// service runs, and with delivery on, the fan-out and retry consumers run.
func readyChecks(delivering bool, eng *engine.Engine, deliveries *delivery.Service, queues *queue.Service) []readiness {
	checks := []readiness{eng.Ready, ready(queues.Ready)}
	if delivering {
		checks = append(checks, ready(deliveries.Ready))
	}
	return checks
}
