// Package retry holds the delivery retry policies of CMQ and MNS subscriptions:
// BACKOFF_RETRY and EXPONENTIAL_DECAY_RETRY. A policy only computes times; the
// caller passes the current time in (from its injected clock) and the policy
// draws randomness from an injected source, so schedules are exact in tests.
package retry

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Strategy names as a subscription's notifyStrategy spells them: the wire
// words, defined here only (topic's model refers to these).
const (
	// Backoff retries three times at random intervals of 19 to 29 seconds.
	Backoff = "BACKOFF_RETRY"
	// ExponentialDecay retries at 1 s, 2 s, 4 s, … up to 512 s apart until a
	// day after publish.
	ExponentialDecay = "EXPONENTIAL_DECAY_RETRY"
)

// ErrUnknownStrategy is returned by New for a strategy name it does not know.
var ErrUnknownStrategy = errors.New("retry: unknown notify strategy")

// Policy decides when a failed delivery is tried again.
type Policy interface {
	// Next returns when attempt number attempt+1 is due, given that attempt
	// (1 for the first push) has just failed at now for a message published
	// at published. ok is false when the policy gives up.
	Next(attempt int, published, now time.Time) (at time.Time, ok bool)
}

// Config tunes the policies.
type Config struct {
	// Scale multiplies every interval, and the exponential policy's one-day
	// window with it, so that a scaled schedule makes the same number of
	// retries in less time (--retry-interval-scale; tests only). Defaults to 1.
	Scale float64
	// Int64N returns a uniform random number in [0, n). It must be safe for
	// concurrent use. Defaults to math/rand/v2.Int64N.
	Int64N func(n int64) int64
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Scale == 0 {
		c.Scale = 1
	}
	if c.Int64N == nil {
		c.Int64N = rand.Int64N
	}
	return c
}

func (c Config) validate() error {
	if c.Scale <= 0 || math.IsNaN(c.Scale) || math.IsInf(c.Scale, 0) {
		return fmt.Errorf("retry: scale %v must be a positive number", c.Scale)
	}
	return nil
}

// New returns the policy for a notifyStrategy name; the empty name is
// EXPONENTIAL_DECAY_RETRY, CMQ's default.
func New(strategy string, cfg Config) (Policy, error) {
	switch strategy {
	case Backoff:
		return NewBackoff(cfg)
	case ExponentialDecay, "":
		return NewExponentialDecay(cfg)
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnknownStrategy, strategy)
	}
}

// Backoff policy constants (Subscribe doc: "every [19,29] s, 3 retries").
const (
	BackoffMin     = 19 * time.Second
	BackoffMax     = 29 * time.Second
	BackoffRetries = 3
)

// BackoffPolicy is BACKOFF_RETRY: BackoffRetries retries, each a uniformly
// random BackoffMin..BackoffMax (millisecond steps, both ends included) after
// the failure, then give up.
type BackoffPolicy struct {
	cfg Config
}

// NewBackoff returns the BACKOFF_RETRY policy.
func NewBackoff(cfg Config) (*BackoffPolicy, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &BackoffPolicy{cfg: cfg}, nil
}

// Next implements Policy.
func (p *BackoffPolicy) Next(attempt int, _, now time.Time) (time.Time, bool) {
	if attempt < 1 || attempt > BackoffRetries {
		return time.Time{}, false
	}
	span := (BackoffMax - BackoffMin) / time.Millisecond
	d := BackoffMin + time.Duration(p.cfg.Int64N(int64(span)+1))*time.Millisecond
	return now.Add(scale(d, p.cfg.Scale)), true
}

// Exponential decay constants (Subscribe doc and MNS NotifyStrategy doc).
const (
	DecayFirst  = time.Second
	DecayCap    = 512 * time.Second
	DecayWindow = 24 * time.Hour
)

// ExponentialDecayPolicy is EXPONENTIAL_DECAY_RETRY: the n-th retry comes
// 2^(n-1) seconds after the n-th failure, capped at DecayCap, as long as it
// falls within DecayWindow of the publish time. With prompt failures that is
// 176 retries: 9 at 1..256 s and 167 at 512 s.
type ExponentialDecayPolicy struct {
	cfg Config
}

// NewExponentialDecay returns the EXPONENTIAL_DECAY_RETRY policy.
func NewExponentialDecay(cfg Config) (*ExponentialDecayPolicy, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &ExponentialDecayPolicy{cfg: cfg}, nil
}

// Next implements Policy.
func (p *ExponentialDecayPolicy) Next(attempt int, published, now time.Time) (time.Time, bool) {
	if attempt < 1 {
		return time.Time{}, false
	}
	d := DecayCap
	if attempt <= 10 { // 2^9 s = DecayCap
		d = DecayFirst << (attempt - 1)
	}
	at := now.Add(scale(d, p.cfg.Scale))
	if at.After(published.Add(scale(DecayWindow, p.cfg.Scale))) {
		return time.Time{}, false
	}
	return at, true
}

func scale(d time.Duration, s float64) time.Duration {
	if s == 1 {
		return d
	}
	return time.Duration(math.Round(float64(d) * s))
}
