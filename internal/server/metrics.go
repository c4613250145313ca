package server

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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

// buildInfo is herald_build_info: always 1, labelled with this binary's
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
