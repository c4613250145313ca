package server

import (
	"cmp"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-mq/herald/internal/api/outcome"
	"github.com/herald-mq/herald/internal/delivery"
	"github.com/herald-mq/herald/internal/topic"
	"github.com/herald-mq/herald/internal/version"
)

// meteredSender counts push attempts by outcome around a delivery.Sender: a
// decorator at the edge, so the delivery core knows nothing of metrics.
type meteredSender struct {
	next     delivery.Sender
	attempts *prometheus.CounterVec
	refused  prometheus.Counter
}

func newMeteredSender(reg prometheus.Registerer, next delivery.Sender) *meteredSender {
	m := &meteredSender{
		next: next,
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_push_attempts_total",
			Help: "Push attempts by outcome: delivered, failed, signature_rejected, deferred, handed_back.",
		}, []string{"outcome"}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_push_refused_total",
			Help: "Attempts not started because the endpoint was saturated or stalled (retried later).",
		}),
	}
	reg.MustRegister(m.attempts, m.refused)
	return m
}

func (m *meteredSender) TrySend(a delivery.Attempt, done func(delivery.Outcome)) bool {
	ok := m.next.TrySend(a, func(o delivery.Outcome) {
		m.attempts.WithLabelValues(outcomeLabel(o)).Inc()
		done(o)
	})
	if !ok {
		m.refused.Inc()
	}
	return ok
}

// Backoff passes the wrapped sender's estimate through.
func (m *meteredSender) Backoff(sub *topic.Subscription) time.Duration {
	if b, ok := m.next.(delivery.Backoffer); ok {
		return b.Backoff(sub)
	}
	return time.Second
}

func outcomeLabel(o delivery.Outcome) string {
	switch {
	case o.Delivered:
		return "delivered"
	case o.SignatureRejected:
		return "signature_rejected"
	case errors.Is(o.Err, delivery.ErrDeferred):
		return "deferred"
	case errors.Is(o.Err, delivery.ErrHandBack):
		return "handed_back"
	}
	return "failed"
}

// buildInfo is herald_build_info: always 1, labeled with this binary's
// version, commit and Go version.
func buildInfo() prometheus.Collector {
	i := version.Get()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "herald_build_info",
		Help:        "Always 1; the labels say which herald binary runs.",
		ConstLabels: prometheus.Labels{"version": i.Version, "revision": i.Revision, "goversion": i.GoVersion},
	})
	g.Set(1)
	return g
}

// apiMetrics names an API's request metrics.
type apiMetrics struct {
	RequestsName, SecondsName string // the counter's and the histogram's names
	API, Codes                string // the API's name and what its codes mean, for the help texts
}

var (
	cmqMetrics = apiMetrics{RequestsName: "herald_api_requests_total", SecondsName: "herald_api_request_seconds", API: "CMQ API", Codes: "0 = success"}
	mnsMetrics = apiMetrics{RequestsName: "herald_mns_requests_total", SecondsName: "herald_mns_request_seconds", API: "MNS API", Codes: "empty = success"}
)

// instrument counts and times an API's requests by action and answer code
// (a decorator at the edge); the histogram's buckets reach past the 30 s
// long poll. Requests that name no known action count as action "unknown", so
// that no client can grow the label set.
func instrument(reg prometheus.Registerer, m apiMetrics, next http.Handler) http.Handler {
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: m.RequestsName, Help: m.API + " requests by action and answer code (" + m.Codes + ").",
	}, []string{"action", "code"})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: m.SecondsName, Help: m.API + " request latency by action; the buckets reach past the 30 s long poll.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 17),
	}, []string{"action"})
	reg.MustRegister(reqs, dur)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx, out := outcome.With(r.Context())
		next.ServeHTTP(w, r.WithContext(ctx))
		action := cmp.Or(out.Action, "unknown")
		reqs.WithLabelValues(action, out.Code).Inc()
		dur.WithLabelValues(action).Observe(time.Since(start).Seconds())
	})
}
