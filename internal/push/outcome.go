package push

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Errors an Outcome may carry.
var (
	// ErrTimeout: the endpoint did not answer within Config.Timeout.
	ErrTimeout = errors.New("push: endpoint did not answer in time")
	// ErrSignatureRejected: a signed push got 403, the MNS answer for a
	// signature that does not verify. StatusError matches it.
	ErrSignatureRejected = errors.New("push: endpoint rejected the signature")
	// ErrNoSigner: an MNS target, but the Pusher has no Signer.
	ErrNoSigner = errors.New("push: MNS push needs a signing key")
	// ErrEndpointStalled: the job was not attempted because its endpoint
	// has stopped answering (StatusDeferred).
	ErrEndpointStalled = errors.New("push: endpoint stalled, job handed back")
	// ErrStopped: the attempt was cut short because the caller stopped.
	ErrStopped = errors.New("push: stopped before the attempt finished")
)

// StatusError is an answer other than 2xx.
type StatusError struct {
	// Code is the HTTP status code.
	Code int
	// Signed tells whether the push carried an MNS signature.
	Signed bool
}

// Error implements error.
func (e *StatusError) Error() string {
	return fmt.Sprintf("push: endpoint answered %d %s", e.Code, http.StatusText(e.Code))
}

// Is makes a 403 to a signed push match ErrSignatureRejected.
func (e *StatusError) Is(target error) bool {
	return target == ErrSignatureRejected && e.Signed && e.Code == http.StatusForbidden
}

// Status says how an attempt ended.
type Status uint8

// Statuses.
const (
	// StatusDelivered: the endpoint answered 2xx.
	StatusDelivered Status = iota + 1
	// StatusFailed: any other answer, a connection error, a refused address
	// or no answer in time. It counts as an attempt.
	StatusFailed
	// StatusAbandoned: the caller stopped before the attempt finished (or
	// started). It does not count as an attempt; hand the delivery back.
	StatusAbandoned
	// StatusDeferred: not attempted, because the endpoint stalled while the
	// job waited. It does not count as an attempt; offer it again later.
	StatusDeferred
)

// String returns the status's name.
func (s Status) String() string {
	switch s {
	case StatusDelivered:
		return "delivered"
	case StatusFailed:
		return "failed"
	case StatusAbandoned:
		return "abandoned"
	case StatusDeferred:
		return "deferred"
	default:
		return fmt.Sprintf("Status(%d)", uint8(s))
	}
}

// Outcome is the result of one attempt.
type Outcome struct {
	// Status is how the attempt ended.
	Status Status
	// Code is the HTTP status code; 0 when there was no answer.
	Code int
	// Err says why the attempt failed or was abandoned; nil when delivered.
	Err error
	// SignatureRejected is set when a signed push got 403: the receiver
	// rejected the signature. Counted apart; retried like any failure.
	SignatureRejected bool
	// Timeout is set when the endpoint did not answer in time.
	Timeout bool
	// RequestID is the x-cmq-request-id or x-mns-request-id sent.
	RequestID string
	// Elapsed is how long the attempt took by the Pusher's clock.
	Elapsed time.Duration
}

// Delivered reports whether the endpoint accepted the message.
func (o Outcome) Delivered() bool { return o.Status == StatusDelivered }
