package server

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-mq/herald/internal/engine"
	"github.com/herald-mq/herald/internal/queue"
)

// scrapeBudget bounds the engine requests one scrape makes.
const scrapeBudget = 5 * time.Second

// maxScrapedQueues bounds the queues whose depth one scrape reads (each costs
// three engine requests).
const maxScrapedQueues = 1000

// queueSource lists queues and counts their messages.
type queueSource interface {
	All() []queue.Queue
	Stats(ctx context.Context, appID int64, name string) (queue.Queue, queue.Stats, error)
}

// streamSource lists the engine's streams.
type streamSource interface {
	StreamStats(ctx context.Context) ([]engine.StreamStat, error)
}

// stateCollector reads queue depths and the engine's health at scrape time,
// so that the figures are never older than the scrape.
type stateCollector struct {
	queues  queueSource
	streams streamSource

	queueMsgs, engineUp, streamMsgs, streamBytes *prometheus.Desc
}

func newStateCollector(queues queueSource, streams streamSource) *stateCollector {
	return &stateCollector{
		queues: queues, streams: streams,
		queueMsgs: prometheus.NewDesc("herald_queue_messages",
			"Messages of a queue by state: active (receivable now), inflight (received, not deleted), delayed.",
			[]string{"app_id", "queue", "state"}, nil),
		engineUp: prometheus.NewDesc("herald_engine_up",
			"1 when the engine (JetStream) answered this scrape, else 0.", nil, nil),
		streamMsgs: prometheus.NewDesc("herald_engine_stream_messages",
			"Messages stored in an engine stream.", []string{"stream"}, nil),
		streamBytes: prometheus.NewDesc("herald_engine_stream_bytes",
			"Bytes stored in an engine stream.", []string{"stream"}, nil),
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.queueMsgs, c.engineUp, c.streamMsgs, c.streamBytes} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeBudget)
	defer cancel()
	streams, err := c.streams.StreamStats(ctx)
	up := 1.0
	if err != nil {
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(c.engineUp, prometheus.GaugeValue, up)
	for _, s := range streams {
		ch <- prometheus.MustNewConstMetric(c.streamMsgs, prometheus.GaugeValue, float64(s.Messages), s.Name)
		ch <- prometheus.MustNewConstMetric(c.streamBytes, prometheus.GaugeValue, float64(s.Bytes), s.Name)
	}
	if err != nil {
		return // queue depths would only time out too
	}
	queues := c.queues.All()
	for _, q := range queues[:min(len(queues), maxScrapedQueues)] {
		_, st, err := c.queues.Stats(ctx, q.AppID, q.Name)
		if err != nil {
			continue // deleted since it was listed, or the engine is slow: leave it out
		}
		app := strconv.FormatInt(q.AppID, 10)
		for _, v := range []struct {
			state string
			n     int64
		}{{"active", st.Active}, {"inflight", st.Inactive}, {"delayed", st.Delayed}} {
			ch <- prometheus.MustNewConstMetric(c.queueMsgs, prometheus.GaugeValue, float64(v.n), app, q.Name, v.state)
		}
	}
}
