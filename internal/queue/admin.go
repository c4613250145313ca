package queue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/herald-mq/herald/internal/engine/stream"
	"github.com/herald-mq/herald/internal/engine/workqueue"
)

// Engine names of a queue.
const (
	streamPrefix  = "HERALD_Q_"
	subjectPrefix = "herald.q."
	consumerName  = "q"
	// duplicateWindow dedupes topic deliveries retried into a queue.
	duplicateWindow = 2 * time.Minute
)

func streamName(q *Queue) string { return streamPrefix + strings.TrimPrefix(q.ID, "queue-") }
func messageSubject(q *Queue) string {
	return subjectPrefix + strings.TrimPrefix(q.ID, "queue-") + ".m"
}
func delaySubject(q *Queue) string {
	return subjectPrefix + strings.TrimPrefix(q.ID, "queue-") + ".d." + workqueue.NewID()
}

// work is the queue's work queue in the engine.
func (s *Service) work(q *Queue) *workqueue.Queue {
	return s.deps.Engine.Queue(streamName(q), consumerName)
}

// WithDefaults returns the settings with every unset attribute at its
// documented default.
func (q Queue) WithDefaults() Queue {
	def := func(v *int, r Range) {
		if *v == 0 {
			*v = int(r.Default)
		}
	}
	if q.MaxMsgHeapNum == 0 {
		q.MaxMsgHeapNum = RangeMaxMsgHeapNum.Default
	}
	def(&q.VisibilityTimeout, RangeVisibilityTimeout)
	def(&q.MaxMsgSize, RangeMaxMsgSize)
	def(&q.MsgRetentionSeconds, RangeMsgRetentionSeconds)
	return q
}

// validate checks what the service itself relies on. The API enforces CMQ's
// narrower ranges; the service accepts a heap of any positive size.
func (q *Queue) validate() error {
	in := func(v int64, r Range) bool { return v >= r.Min && v <= r.Max }
	switch {
	case q.MaxMsgHeapNum < 1 || q.MaxMsgHeapNum > RangeMaxMsgHeapNum.Max,
		!in(int64(q.PollingWaitSeconds), RangePollingWaitSeconds),
		!in(int64(q.VisibilityTimeout), RangeVisibilityTimeout),
		!in(int64(q.MaxMsgSize), RangeMaxMsgSize),
		!in(int64(q.MsgRetentionSeconds), RangeMsgRetentionSeconds),
		!in(int64(q.RewindSeconds), RangeRewindSeconds),
		!in(int64(q.DelaySeconds), RangeDelaySeconds):
		return ErrBadAttribute
	case q.DelaySeconds > q.MsgRetentionSeconds:
		return ErrDelayOutOfRange
	case q.RewindSeconds > q.MsgRetentionSeconds:
		return ErrRewindOverRetained
	case q.DeadLetterQueue != "" && !in(int64(q.MaxReceiveCount), RangeMaxReceiveCount):
		return ErrBadAttribute
	case q.DeadLetterQueue != "" && strings.EqualFold(q.DeadLetterQueue, q.Name):
		return ErrDeadLetterSelf
	}
	return nil
}

func (s *Service) streamConfig(q *Queue) stream.Config {
	retention := time.Duration(q.MsgRetentionSeconds) * time.Second
	return stream.Config{
		Name:           streamName(q),
		Description:    fmt.Sprintf("herald queue %d/%s", q.AppID, q.Name),
		Subjects:       []string{subjectPrefix + strings.TrimPrefix(q.ID, "queue-") + ".>"},
		MaxAge:         retention,
		Duplicates:     min(duplicateWindow, retention),
		AllowSchedules: true,
		AllowDirect:    true,
	}
}

func (s *Service) consumerConfig(q *Queue) workqueue.ConsumerConfig {
	return workqueue.ConsumerConfig{
		Name:       consumerName,
		Filter:     messageSubject(q),
		AckWait:    time.Duration(q.VisibilityTimeout) * time.Second,
		MaxWaiting: s.cfg.MaxLongPolls,
	}
}

// CreateQueue creates a queue; unset attributes take their defaults. The
// stream comes first, so that a queue that is listed can always be used.
func (s *Service) CreateQueue(ctx context.Context, q Queue) (Queue, error) {
	q = q.WithDefaults()
	if err := q.validate(); err != nil {
		return Queue{}, err
	}
	if _, err := s.store.get(ctx, q.AppID, q.Name); err == nil {
		return Queue{}, ErrQueueExists
	}
	if s.store.count(q.AppID) >= s.cfg.MaxQueuesPerAccount {
		return Queue{}, ErrQueueLimit
	}
	if err := s.checkDeadLetter(ctx, &q); err != nil {
		return Queue{}, err
	}
	q.ID = "queue-" + randomHex(8)
	q.Key = []byte(randomHex(16))
	now := s.deps.Clock.Now().Unix()
	q.CreateTime, q.LastModifyTime = now, now
	if err := s.work(&q).Create(ctx, s.streamConfig(&q), s.consumerConfig(&q)); err != nil {
		s.dropStream(&q)
		return Queue{}, fmt.Errorf("queue: %w", err)
	}
	if err := s.store.create(ctx, &q); err != nil {
		s.dropStream(&q)
		return Queue{}, err
	}
	return q, nil
}

func (s *Service) checkDeadLetter(ctx context.Context, q *Queue) error {
	if q.DeadLetterQueue == "" {
		q.MaxReceiveCount = 0
		return nil
	}
	dl, err := s.store.get(ctx, q.AppID, q.DeadLetterQueue)
	if errors.Is(err, ErrQueueNotFound) {
		return ErrDeadLetterNotFound
	}
	if err != nil {
		return err
	}
	q.DeadLetterQueue = dl.Name
	return nil
}

func (s *Service) dropStream(q *Queue) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.work(q).Delete(ctx); err != nil {
		s.deps.Log.Warn("queue: stream not deleted", "stream", streamName(q), "err", err)
	}
	s.heap.forget(q.ID)
}

// Queue returns one queue's settings.
func (s *Service) Queue(ctx context.Context, appID int64, name string) (Queue, error) {
	q, err := s.store.get(ctx, appID, name)
	if err != nil {
		return Queue{}, err
	}
	return *q, nil
}

// CheckQueue reports ErrQueueNotFound unless the account has the queue.
func (s *Service) CheckQueue(ctx context.Context, appID int64, name string) error {
	_, err := s.store.get(ctx, appID, name)
	return err
}

// UpdateQueue changes a queue's attributes; change must leave its identity
// (AppID, Name, ID, Key) alone. The stream and consumer follow the new
// settings; a shorter visibility timeout invalidates outstanding handles,
// whose messages would otherwise come back before their nextVisibleTime.
func (s *Service) UpdateQueue(ctx context.Context, appID int64, name string, change func(*Queue) error) (Queue, error) {
	old, q, err := s.store.update(ctx, appID, name, func(q *Queue) error {
		prev := *q
		if err := change(q); err != nil {
			return err
		}
		q.AppID, q.Name, q.ID, q.Key, q.CreateTime = prev.AppID, prev.Name, prev.ID, prev.Key, prev.CreateTime
		if err := q.validate(); err != nil {
			return err
		}
		if q.DeadLetterQueue != prev.DeadLetterQueue {
			if err := s.checkDeadLetter(ctx, q); err != nil {
				return err
			}
		}
		if q.DeadLetterQueue == "" {
			q.MaxReceiveCount = 0
		}
		if q.VisibilityTimeout < prev.VisibilityTimeout {
			q.Epoch++
		}
		q.LastModifyTime = s.deps.Clock.Now().Unix()
		return nil
	})
	if err != nil {
		return Queue{}, err
	}
	if old.MsgRetentionSeconds != q.MsgRetentionSeconds {
		if err := s.work(q).UpdateStream(ctx, s.streamConfig(q)); err != nil {
			return Queue{}, err
		}
	}
	if old.VisibilityTimeout != q.VisibilityTimeout {
		if err := s.work(q).UpdateConsumer(ctx, s.consumerConfig(q)); err != nil {
			return Queue{}, fmt.Errorf("queue: %w", err)
		}
	}
	return *q, nil
}

// DeleteQueue removes a queue and its messages.
func (s *Service) DeleteQueue(ctx context.Context, appID int64, name string) error {
	q, err := s.store.remove(ctx, appID, name)
	if err != nil {
		return err
	}
	s.dropStream(q)
	return nil
}

// ListQueues returns the account's queues whose names contain search (any
// case), sorted by name, from offset, at most limit, and how many match.
func (s *Service) ListQueues(appID int64, search string, offset, limit int) (int, []Queue) {
	all := s.store.list(appID, search)
	if offset >= len(all) {
		return len(all), []Queue{}
	}
	page := all[offset:min(len(all), offset+limit)]
	out := make([]Queue, len(page))
	for i, q := range page {
		out[i] = *q
	}
	return len(all), out
}

// All returns every account's queues, in no particular order.
func (s *Service) All() []Queue {
	all := s.store.all()
	out := make([]Queue, len(all))
	for i, q := range all {
		out[i] = *q
	}
	return out
}

// Stats are a queue's message counts (GetQueueAttributes). The engine keeps
// them per consumer, so they are a moment's picture.
type Stats struct {
	// Active messages can be received now; Inactive ones were received and
	// are neither deleted nor back yet (a message whose visibility timeout
	// has just run out counts here until it is received again).
	Active, Inactive int64
	// Delayed messages wait for their delaySeconds.
	Delayed int64
	// Rewindable messages are deleted but kept for RewindQueue.
	Rewindable int64
	// MinMsgTime is the enqueue time of the oldest message not deleted; zero
	// when there is none.
	MinMsgTime time.Time
}

// Stats counts a queue's messages.
func (s *Service) Stats(ctx context.Context, appID int64, name string) (Queue, Stats, error) {
	q, err := s.store.get(ctx, appID, name)
	if err != nil {
		return Queue{}, Stats{}, err
	}
	w := s.work(q)
	state, err := w.State(ctx, messageSubject(q))
	if err != nil {
		return Queue{}, Stats{}, s.engineErr(err)
	}
	records, err := s.countRecords(ctx, q)
	if err != nil {
		return Queue{}, Stats{}, err
	}
	onSubject := int64(state.SubjectMsgs)
	st := Stats{
		Active:   int64(state.Pending),
		Inactive: int64(state.AckPending),
		Delayed:  max(0, int64(state.Msgs)-onSubject-records),
	}
	st.Rewindable = max(0, onSubject-st.Active-st.Inactive)
	if st.Active+st.Inactive > 0 {
		if t, ok := w.FirstTime(ctx, messageSubject(q), state.AckFloor+1); ok {
			st.MinMsgTime = t
		}
	}
	return *q, st, nil
}

// Rewind makes the queue deliver again, in order, every message enqueued at
// or after start, deleted or not; messages before start count as consumed.
// start must lie within the queue's rewindSeconds.
func (s *Service) Rewind(ctx context.Context, appID int64, name string, start time.Time) error {
	q, err := s.store.get(ctx, appID, name)
	if err != nil {
		return err
	}
	if q.RewindSeconds == 0 {
		return ErrCannotRewind
	}
	now := s.deps.Clock.Now()
	if start.After(now) || start.Before(now.Add(-time.Duration(q.RewindSeconds)*time.Second)) {
		return ErrRewindTime
	}
	seq, err := s.seqAtTime(ctx, q, start)
	if err != nil {
		return err
	}
	// Handles from before the rewind must not acknowledge the new deliveries.
	_, q, err = s.store.update(ctx, appID, name, func(q *Queue) error {
		q.Epoch++
		q.Rewinds++
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.work(q).ResetTo(ctx, seq); err != nil {
		return fmt.Errorf("queue: rewind: %w", s.engineErr(err))
	}
	return nil
}

// seqAtTime returns the sequence of the first message on the queue's message
// subject stored at or after t, or the next sequence to be stored if none.
func (s *Service) seqAtTime(ctx context.Context, q *Queue, t time.Time) (uint64, error) {
	seq, err := s.work(q).FirstAt(ctx, messageSubject(q), t)
	if err != nil {
		return 0, fmt.Errorf("queue: %w", s.engineErr(err))
	}
	return seq, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// engineErr turns "the stream or consumer is gone" into ErrQueueNotFound: a
// queue another process has just deleted.
func (s *Service) engineErr(err error) error {
	if errors.Is(err, workqueue.ErrGone) {
		return fmt.Errorf("%w: %w", ErrQueueNotFound, err)
	}
	return err
}
