package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/herald-mq/herald/internal/engine/kv"

	"github.com/herald-mq/herald/internal/topic"
)

// StatsBucket keeps per-subscription delivery counters.
const StatsBucket = "herald_delivery_stats"

// Counts are a subscription's delivery counters.
type Counts struct {
	// GivenUp counts messages whose retries ran out.
	GivenUp int64 `json:"givenUp"`
	// SignatureRejected counts attempts the endpoint refused with 403.
	SignatureRejected int64 `json:"signatureRejected"`
}

// Stats records counters in the engine, so every process sees the same.
type Stats struct {
	kv  statsBucket
	log *slog.Logger
}

// NewStats returns counters over the bucket.
func NewStats(b statsBucket, log *slog.Logger) *Stats { return &Stats{kv: b, log: log} }

// statsBucket is what Stats needs of a key-value bucket (a *kv.Bucket).
type statsBucket interface {
	Get(ctx context.Context, key string) (kv.Entry, error)
	Create(ctx context.Context, key string, value []byte) (uint64, error)
	Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error)
}

func statsKey(sub *topic.Subscription) string {
	return strconv.FormatInt(sub.AppID, 10) + "." + sub.TopicName + "." + sub.Name + "." + sub.ID
}

// GaveUp counts and logs a message given up for a subscription.
func (s *Stats) GaveUp(ctx context.Context, sub *topic.Subscription, msgID string, reason error) {
	s.log.Warn("delivery given up", "topic", sub.TopicName, "subscription", sub.Name, "msgId", msgID, "reason", reason)
	s.add(ctx, sub, func(c *Counts) { c.GivenUp++ })
}

// SignatureRejected counts an attempt refused with 403.
func (s *Stats) SignatureRejected(ctx context.Context, sub *topic.Subscription) {
	s.add(ctx, sub, func(c *Counts) { c.SignatureRejected++ })
}

func (s *Stats) add(ctx context.Context, sub *topic.Subscription, change func(*Counts)) {
	key := statsKey(sub)
	for range 100 {
		var c Counts
		var rev uint64
		e, err := s.kv.Get(ctx, key)
		switch {
		case err == nil:
			rev = e.Revision
			if err := json.Unmarshal(e.Value, &c); err != nil {
				s.log.Error("delivery: stats record unreadable, restarting it", "key", key, "err", err)
			}
		case !errors.Is(err, kv.ErrKeyNotFound):
			s.log.Error("delivery: stats not counted", "key", key, "err", err)
			return
		}
		change(&c)
		b, _ := json.Marshal(c)
		if rev == 0 {
			_, err = s.kv.Create(ctx, key, b)
		} else {
			_, err = s.kv.Update(ctx, key, b, rev)
		}
		if err == nil {
			return
		}
	}
	s.log.Error("delivery: stats not counted after 100 conflicts", "key", key)
}

// Counts returns a subscription's counters.
func (s *Stats) Counts(ctx context.Context, sub topic.Subscription) (Counts, error) {
	var c Counts
	e, err := s.kv.Get(ctx, statsKey(&sub))
	if errors.Is(err, kv.ErrKeyNotFound) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("delivery: stats: %w", err)
	}
	return c, json.Unmarshal(e.Value, &c)
}
