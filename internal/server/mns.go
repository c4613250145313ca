package server

import (
	"cmp"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-mq/herald/internal/api/mns"
	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/config"
)

// newMNSAPI builds the MNS REST API over the services the CMQ API uses,
// counted in herald_mns_requests_total.
func newMNSAPI(cfg config.Config, deps mns.Deps, clk clock.Clock, log *slog.Logger, reg prometheus.Registerer) (http.Handler, error) {
	deps.Clock, deps.Log = clk, log
	api, err := mns.New(mns.Config{
		SignatureWindow:          cfg.SignatureWindow,
		MaxSubscriptionsPerTopic: cfg.MaxSubscriptionsPerTopic,
		AllowPrivateEndpoints:    cfg.AllowPrivateEndpoints,
	}, deps)
	if err != nil {
		return nil, err
	}
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "herald_mns_requests_total", Help: "MNS API requests by operation and error code (empty = success).",
	}, []string{"action", "code"})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "herald_mns_request_seconds", Help: "MNS API request latency by operation; the buckets reach past the 30 s long poll.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 17),
	}, []string{"action"})
	reg.MustRegister(reqs, dur)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx, out := mns.WithOutcome(r.Context())
		api.ServeHTTP(w, r.WithContext(ctx))
		action := cmp.Or(out.Action, "unknown")
		reqs.WithLabelValues(action, out.Code).Inc()
		dur.WithLabelValues(action).Observe(time.Since(start).Seconds())
	}), nil
}

// withMNS sends a request that carries x-mns-version (every MNS SDK sends
// it) to the MNS API, and anything else to next.
func withMNS(mnsAPI, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Header["X-Mns-Version"]; ok {
			mnsAPI.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
