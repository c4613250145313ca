// Package schedule stores messages that the engine moves to another
// subject at a given time (JetStream message schedules): delivery's retries
// and leases. A scheduled message can replace the others on its subject (a
// renewed lease), be canceled before it comes due, and be counted.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers of a JetStream message schedule.
const (
	headerSchedule = "Nats-Schedule"
	headerTarget   = "Nats-Schedule-Target"
)

// ErrNotFound means the scheduled message is not there (it came due, or was
// canceled).
var ErrNotFound = errors.New("schedule: no such scheduled message")

// Scheduler stores scheduled messages in one stream, which must allow
// schedules (and rollups, for Replace).
type Scheduler struct {
	js     jetstream.JetStream
	stream jetstream.Stream
}

// New schedules on the stream named name.
func New(ctx context.Context, js jetstream.JetStream, name string) (*Scheduler, error) {
	s, err := js.Stream(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("schedule: stream %s: %w", name, err)
	}
	return &Scheduler{js: js, stream: s}, nil
}

// Msg is a message to schedule.
type Msg struct {
	// Subject the scheduled message waits on; it must be unique to the
	// schedule (or shared with the ones it Replaces).
	Subject string
	// Target is where the engine publishes Data at At.
	Target string
	At     time.Time
	Data   []byte
	// Replace drops every other message on Subject once this one is stored.
	Replace bool
}

// Schedule stores m and returns its stream sequence.
func (s *Scheduler) Schedule(ctx context.Context, m Msg) (uint64, error) {
	nm := &nats.Msg{Subject: m.Subject, Data: m.Data, Header: nats.Header{}}
	nm.Header.Set(headerSchedule, "@at "+m.At.UTC().Format(time.RFC3339Nano))
	nm.Header.Set(headerTarget, m.Target)
	if m.Replace {
		nm.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
	}
	ack, err := s.js.PublishMsg(ctx, nm)
	if err != nil {
		return 0, fmt.Errorf("schedule: %w", err)
	}
	return ack.Sequence, nil
}

// Cancel deletes the scheduled message at seq; ErrNotFound when it is not
// there any more.
func (s *Scheduler) Cancel(ctx context.Context, seq uint64) error {
	if err := s.stream.DeleteMsg(ctx, seq); err != nil {
		if noMessage(err) {
			return fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		return fmt.Errorf("schedule: cancel %d: %w", seq, err)
	}
	return nil
}

// Count is how many messages the stream holds on subjects matching filter
// (wildcards allowed): scheduled ones, and due ones not yet taken.
func (s *Scheduler) Count(ctx context.Context, filter string) (uint64, error) {
	info, err := s.stream.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return 0, fmt.Errorf("schedule: count: %w", err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n, nil
}

// noMessage reports whether err says there is no message at the sequence:
// a delete answers 10057 "no message found", a get 10037.
func noMessage(err error) bool {
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return true
	}
	var api *jetstream.APIError
	return errors.As(err, &api) && api.ErrorCode == 10037 ||
		// nats.go wraps a failed delete's API error as text only.
		strings.Contains(err.Error(), "no message found")
}
