package mqtt

import (
	"net/http"
	"sync/atomic"

	"github.com/mochi-mqtt/server/v2/system"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are read at the edges: the gateway through a middleware, the
// broker from the counters mochi keeps anyway.
type metrics struct {
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	collectors []prometheus.Collector
}

func newMetrics(info *system.Info) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_mqtt_http_requests_total",
			Help: "HTTP publish gateway requests by status code.",
		}, []string{"code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "herald_mqtt_http_request_duration_seconds",
			Help:    "HTTP publish gateway request latency.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 8),
		}, nil),
	}
	gauge := func(name, help string, v *int64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
			func() float64 { return float64(atomic.LoadInt64(v)) })
	}
	counter := func(name, help string, v *int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(atomic.LoadInt64(v)) })
	}
	m.collectors = []prometheus.Collector{
		m.requests, m.duration,
		gauge("herald_mqtt_clients_connected", "MQTT clients connected.", &info.ClientsConnected),
		gauge("herald_mqtt_retained_messages", "Retained messages held.", &info.Retained),
		gauge("herald_mqtt_inflight_messages", "QoS 1/2 messages awaiting acknowledgement.", &info.Inflight),
		counter("herald_mqtt_messages_received_total", "PUBLISH packets received, gateway publishes included.", &info.MessagesReceived),
		counter("herald_mqtt_messages_sent_total", "PUBLISH packets sent to subscribers.", &info.MessagesSent),
		counter("herald_mqtt_messages_dropped_total", "Messages dropped because a client's write queue was full.", &info.MessagesDropped),
		counter("herald_mqtt_inflight_dropped_total", "QoS 1/2 messages dropped because a client's inflight store was full.", &info.InflightDropped),
	}
	return m
}

func (m *metrics) instrument(h http.Handler) http.Handler {
	return promhttp.InstrumentHandlerCounter(m.requests, promhttp.InstrumentHandlerDuration(m.duration, h))
}

// Collectors returns the broker's and the gateway's metrics for the caller
// to register.
func (s *Server) Collectors() []prometheus.Collector { return s.metrics.collectors }
