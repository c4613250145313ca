package stream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Config describes a stream. The engine adds its replica count and file
// storage.
type Config struct {
	Name        string
	Description string
	// Subjects the stream stores.
	Subjects []string
	// MaxAge drops messages older than it; 0 keeps them.
	MaxAge time.Duration
	// MaxMsgSize refuses bigger messages; 0 is the engine's limit.
	MaxMsgSize int32
	// Duplicates is the window in which a second message with the same
	// Nats-Msg-Id is not stored again; 0 is the engine's default.
	Duplicates time.Duration
	// WorkQueue removes a message once a consumer acknowledged it (instead
	// of keeping it until MaxAge).
	WorkQueue bool
	// AllowAtomic lets publishers store batches atomically (Atomic).
	AllowAtomic bool
	// AllowSchedules lets messages schedule others (Nats-Schedule headers).
	AllowSchedules bool
	// AllowRollup lets a message replace the others of its subject.
	AllowRollup bool
	// AllowDirect serves reads of single messages from any replica.
	AllowDirect bool
}

// JetStream is the JetStream form of c (for the engine).
func (c Config) JetStream() jetstream.StreamConfig {
	sc := jetstream.StreamConfig{
		Name:               c.Name,
		Description:        c.Description,
		Subjects:           c.Subjects,
		Retention:          jetstream.LimitsPolicy,
		MaxAge:             c.MaxAge,
		MaxMsgSize:         c.MaxMsgSize,
		Duplicates:         c.Duplicates,
		Discard:            jetstream.DiscardOld,
		AllowAtomicPublish: c.AllowAtomic,
		AllowMsgSchedules:  c.AllowSchedules,
		AllowRollup:        c.AllowRollup,
		AllowDirect:        c.AllowDirect,
	}
	if c.WorkQueue {
		sc.Retention = jetstream.WorkQueuePolicy
	}
	return sc
}

// Stream is one open stream.
type Stream struct {
	s jetstream.Stream
}

// Wrap wraps an open JetStream stream (the engine opens them).
func Wrap(s jetstream.Stream) *Stream { return &Stream{s: s} }

// ErrNotFound means there is no such message, or no such stream.
var ErrNotFound = errors.New("stream: not found")

// Name is the stream's name.
func (s *Stream) Name() string { return s.s.CachedInfo().Config.Name }

// Replicated reports whether the stream is kept on several servers (or in
// memory): then an atomic batch is cheaper than a message at a time.
func (s *Stream) Replicated() bool {
	c := s.s.CachedInfo().Config
	return c.Replicas > 1 || c.Storage == jetstream.MemoryStorage
}

// AllowsAtomic reports whether the stream, as opened, allows atomic batches
// (a server that predates them answers without the setting).
func (s *Stream) AllowsAtomic() bool { return s.s.CachedInfo().Config.AllowAtomicPublish }

// SubjectCount is how many messages the stream holds on subject.
func (s *Stream) SubjectCount(ctx context.Context, subject string) (uint64, error) {
	info, err := s.s.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return 0, fmt.Errorf("stream: %s info: %w", s.Name(), notFound(err))
	}
	return info.State.Subjects[subject], nil
}

// Purge drops the messages of subject; with below > 0, only those with a
// sequence below it.
func (s *Stream) Purge(ctx context.Context, subject string, below uint64) error {
	opts := []jetstream.StreamPurgeOpt{jetstream.WithPurgeSubject(subject)}
	if below > 0 {
		opts = append(opts, jetstream.WithPurgeSequence(below))
	}
	if err := s.s.Purge(ctx, opts...); err != nil {
		return fmt.Errorf("stream: %s purge %s: %w", s.Name(), subject, notFound(err))
	}
	return nil
}

// Stored is a message as the stream holds it.
type Stored struct {
	Subject  string
	Sequence uint64
	Header   Header
	Data     []byte
	Time     time.Time
}

// Get reads the message at seq (ErrNotFound when there is none).
func (s *Stream) Get(ctx context.Context, seq uint64) (Stored, error) {
	m, err := s.s.GetMsg(ctx, seq)
	if err != nil {
		return Stored{}, fmt.Errorf("stream: %s get %d: %w", s.Name(), seq, notFound(err))
	}
	return stored(m), nil
}

// Last reads the last message on subject (ErrNotFound when there is none).
func (s *Stream) Last(ctx context.Context, subject string) (Stored, error) {
	m, err := s.s.GetLastMsgForSubject(ctx, subject)
	if err != nil {
		return Stored{}, fmt.Errorf("stream: %s last %s: %w", s.Name(), subject, notFound(err))
	}
	return stored(m), nil
}

// Delete removes the message at seq.
func (s *Stream) Delete(ctx context.Context, seq uint64) error {
	if err := s.s.DeleteMsg(ctx, seq); err != nil {
		return fmt.Errorf("stream: %s delete %d: %w", s.Name(), seq, notFound(err))
	}
	return nil
}

func stored(m *jetstream.RawStreamMsg) Stored {
	return Stored{Subject: m.Subject, Sequence: m.Sequence, Header: Header(m.Header), Data: m.Data, Time: m.Time}
}

func notFound(err error) error {
	var api *jetstream.APIError
	noMessage := errors.As(err, &api) && api.ErrorCode == 10037 ||
		// nats.go wraps a failed delete's API error as text only.
		strings.Contains(err.Error(), "no message found")
	if noMessage || errors.Is(err, jetstream.ErrMsgNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}
