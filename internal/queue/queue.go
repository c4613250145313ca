package queue

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/engine/kv"
	"github.com/herald-mq/herald/internal/engine/stream"
	"github.com/herald-mq/herald/internal/engine/workqueue"
)

// Queue is one queue's settings as stored in the metadata bucket.
type Queue struct {
	AppID int64  `json:"appId"`
	Name  string `json:"name"`
	// ID is the queueId; it also names the queue's stream, so a queue
	// re-created under the same name starts empty.
	ID                  string `json:"id"`
	MaxMsgHeapNum       int64  `json:"maxMsgHeapNum"`
	PollingWaitSeconds  int    `json:"pollingWaitSeconds"`
	VisibilityTimeout   int    `json:"visibilityTimeout"`
	MaxMsgSize          int    `json:"maxMsgSize"`
	MsgRetentionSeconds int    `json:"msgRetentionSeconds"`
	RewindSeconds       int    `json:"rewindSeconds"`
	// DelaySeconds is the delay of a message sent without one (MNS's queue
	// attribute; CMQ has none, and sends without a delay are immediate).
	DelaySeconds int `json:"delaySeconds,omitempty"`
	// DeadLetterQueue names the queue (same account) that takes a message
	// received MaxReceiveCount times without being deleted; "" is no policy.
	DeadLetterQueue string `json:"deadLetterQueue,omitempty"`
	MaxReceiveCount int    `json:"maxReceiveCount,omitempty"`
	CreateTime      int64  `json:"createTime"`
	LastModifyTime  int64  `json:"lastModifyTime"`
	// Epoch changes whenever outstanding receipt handles must stop working
	// (a shorter visibility timeout, a rewind).
	Epoch uint64 `json:"epoch"`
	// Rewinds counts RewindQueue calls; receipt records of an earlier
	// rewind no longer apply (record.go).
	Rewinds uint64 `json:"rewinds,omitempty"`
	// Key seals this queue's receipt handles. Never sent to clients.
	Key []byte `json:"key"`
}

// Range is the documented range and default of a numeric attribute.
type Range struct{ Min, Max, Default int64 }

// Attribute ranges (wire.md §1.5; dead-letter ones from CMQ 3.0).
var (
	RangeMaxMsgHeapNum       = Range{1_000_000, 1_000_000_000, 100_000_000}
	RangePollingWaitSeconds  = Range{0, 30, 0}
	RangeVisibilityTimeout   = Range{1, 43200, 30}
	RangeMaxMsgSize          = Range{1024, 1 << 20, 65536}
	RangeMsgRetentionSeconds = Range{60, 1_296_000, 345_600}
	RangeRewindSeconds       = Range{0, 1_296_000, 0}
	RangeMaxReceiveCount     = Range{1, 1000, 0}
	// RangeDelaySeconds is further limited by the queue's msgRetentionSeconds.
	RangeDelaySeconds = Range{0, 1_296_000, 0}
)

// MaxBatch is the most messages one batch action sends, receives or deletes.
const MaxBatch = 16

// Errors of the queue service; the API maps them to wire codes.
var (
	ErrQueueNotFound      = errors.New("queue is not existed, or deleted")
	ErrQueueExists        = errors.New("queue is already existed, case insensitive")
	ErrQueueLimit         = errors.New("number of queues has reached the limit")
	ErrHeapFull           = errors.New("reach maximum retention number of message")
	ErrMessageTooBig      = errors.New("exceed maximum message size")
	ErrEmptyMessage       = errors.New("message body can't be empty")
	ErrDelayOutOfRange    = errors.New("delay seconds is out of range")
	ErrNoMessage          = errors.New("no message")
	ErrInvalidHandle      = errors.New("receipt handle is invalid")
	ErrCannotRewind       = errors.New("queue cannot be rewinded")
	ErrRewindTime         = errors.New("invalid rewind time")
	ErrRewindOverRetained = errors.New("rewindSeconds is larger than msgRetentionSeconds")
	ErrDeadLetterNotFound = errors.New("dead letter queue is not existed")
	ErrDeadLetterSelf     = errors.New("dead letter queue cannot be the queue itself")
	ErrBadAttribute       = errors.New("queue attribute out of range")
)

// Config tunes the queue service.
type Config struct {
	// MaxQueuesPerAccount caps CreateQueue (4450/10220). Defaults to 1000.
	MaxQueuesPerAccount int
	// MaxLongPolls bounds the receives that may wait at once on one queue
	// (the consumer's MaxWaiting). Defaults to 10000.
	MaxLongPolls int
	// PurgeInterval is how often the janitor drops deleted messages that are
	// past the rewind window. Defaults to 30 seconds.
	PurgeInterval time.Duration
	// HandleGuard is how long before its nextVisibleTime a receipt handle stops
	// being accepted, at most a tenth of the visibility timeout: it covers the
	// time between the engine's delivery and herald seeing it, and clock skew
	// between herald processes. Defaults to 200 milliseconds.
	HandleGuard time.Duration
}

// WithDefaults returns the config with every unset field at its default.
func (c Config) WithDefaults() Config {
	c.MaxQueuesPerAccount = cmp.Or(c.MaxQueuesPerAccount, 1000)
	c.MaxLongPolls = cmp.Or(c.MaxLongPolls, 10000)
	c.PurgeInterval = cmp.Or(c.PurgeInterval, 30*time.Second)
	c.HandleGuard = cmp.Or(c.HandleGuard, 200*time.Millisecond)
	return c
}

func (c Config) validate() error {
	switch {
	case c.MaxQueuesPerAccount < 1:
		return errors.New("queue: MaxQueuesPerAccount must be positive")
	case c.MaxLongPolls < 1:
		return errors.New("queue: MaxLongPolls must be positive")
	case c.PurgeInterval < 0 || c.HandleGuard < 0:
		return errors.New("queue: negative interval")
	}
	return nil
}

// Deps are what the queue service works with.
type Deps struct {
	// Engine keeps the queues' messages (engine.WorkQueues()). Required.
	Engine Engine
	// KV opens the metadata bucket (engine.Bucket). Required.
	KV func(ctx context.Context, bucket string, history uint8) (*kv.Bucket, error)
	// Clock stamps createTime and lastModifyTime, bounds rewinds and paces
	// the janitor. Defaults to the real clock.
	Clock clock.Clock
	// EngineClock is the engine's wall clock, which its timers (ack wait,
	// message schedules, pull expiry) and stored times run on: message
	// times (enqueue, visibility, delays), receive waits and the heap
	// count's age are read from it. Defaults to the real clock.
	EngineClock clock.Clock
	// Log is required.
	Log *slog.Logger
}

// Engine is what the service needs of the engine (a *workqueue.Engine): a
// work queue per queue, and publishing with acknowledgement.
type Engine interface {
	Queue(stream, consumer string) *workqueue.Queue
	Publish(ctx context.Context, msgs []stream.Msg) ([]uint64, error)
	PublishAsync(msgs []stream.Msg) *workqueue.Pending
	Reconnects() uint64
}

// Service serves queues.
type Service struct {
	cfg   Config
	deps  Deps
	store *store
	now   func() time.Time // deps.EngineClock.Now

	heap heapCounts

	dirtyMu sync.Mutex
	dirty   map[string]bool // queue IDs with deletes the janitor has not purged

	suspectMu  sync.Mutex
	suspect    map[string]*recordIndex // by queue ID (record.go)
	reconnects uint64                  // the connection's reconnects when suspect was filled

	runMu   sync.Mutex
	stop    context.CancelFunc
	stopped chan struct{}

	// longPoll, when set, is called as a receive starts to wait (tests).
	longPoll func()
}

// New opens the metadata bucket and returns the service once it knows every
// queue stored so far. Start runs the janitor.
func New(ctx context.Context, cfg Config, deps Deps) (*Service, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if deps.Engine == nil || deps.KV == nil || deps.Log == nil {
		return nil, errors.New("queue: Engine, KV and Log are required")
	}
	deps.Clock = cmp.Or[clock.Clock](deps.Clock, clock.Real{})
	deps.EngineClock = cmp.Or[clock.Clock](deps.EngineClock, clock.Real{})
	b, err := deps.KV(ctx, Bucket, 1)
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, b, deps.Log)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, deps: deps, store: st, now: deps.EngineClock.Now, dirty: map[string]bool{}, suspect: map[string]*recordIndex{}}, nil
}

// Start runs the janitor that purges deleted messages, until Stop; it
// first looks at every queue, for deletes made before a restart. An ended
// ctx refuses the start.
func (s *Service) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("queue: start: %w", err)
	}
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if s.stop != nil {
		return errors.New("queue: already started")
	}
	for _, q := range s.store.all() {
		s.markDirty(q.ID)
	}
	jctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stop, s.stopped = cancel, make(chan struct{})
	go s.janitor(jctx, s.stopped)
	return nil
}

// Stop ends the janitor and stops following the metadata bucket. Receives
// in long poll end with their callers' contexts, not here.
func (s *Service) Stop(ctx context.Context) error {
	s.runMu.Lock()
	cancel, stopped := s.stop, s.stopped
	s.stop = nil
	s.runMu.Unlock()
	if cancel != nil {
		cancel()
		select {
		case <-stopped:
		case <-ctx.Done():
			return fmt.Errorf("queue: janitor still running: %w", ctx.Err())
		}
	}
	s.store.close()
	return nil
}
