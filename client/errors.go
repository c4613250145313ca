package client

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Error is a CMQ response whose code is not 0. Message is the text after the
// "(moduleCode)" prefix the server puts on most messages.
type Error struct {
	// Code is the response's code, e.g. 4440 or 7000.
	Code int
	// ModuleCode is the number in parentheses at the start of the message,
	// e.g. 10100; 0 when the message has none.
	ModuleCode int
	// Message is the error text without the module code prefix.
	Message string
	// RequestID is the server's id for the request, for its logs.
	RequestID string
}

// Error formats the code, module code, message and request id.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("cmq: code ")
	b.WriteString(strconv.Itoa(e.Code))
	if e.ModuleCode != 0 {
		b.WriteString(" (")
		b.WriteString(strconv.Itoa(e.ModuleCode))
		b.WriteString(")")
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" [requestId ")
		b.WriteString(e.RequestID)
		b.WriteString("]")
	}
	return b.String()
}

// Is reports whether target is an *Error whose non-zero Code and ModuleCode
// equal e's, so that the Err* values below match with errors.Is.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok || (t.Code == 0 && t.ModuleCode == 0) {
		return false
	}
	return (t.Code == 0 || t.Code == e.Code) && (t.ModuleCode == 0 || t.ModuleCode == e.ModuleCode)
}

// Values to compare a returned error with errors.Is. Those that name only a
// ModuleCode match whichever code the server pairs it with (the docs give
// both 4000 and 4440 for a missing queue).
var (
	// ErrAuthFailed is any authentication failure (code 4100).
	ErrAuthFailed = &Error{Code: 4100}
	// ErrQueueNotExist is "queue is not existed, or deleted" (module 10100).
	ErrQueueNotExist = &Error{ModuleCode: 10100}
	// ErrTopicNotExist is "topic is not existed, or deleted" (module 10600).
	ErrTopicNotExist = &Error{ModuleCode: 10600}
	// ErrQueueExists is "queue is already existed" (code 4460, module 10210;
	// CMQ documents the code alone, and herald adds the module so that it
	// differs from ErrTopicExists).
	ErrQueueExists = &Error{Code: 4460, ModuleCode: 10210}
	// ErrTopicExists is "topic is already existed" (code 4460, module 10550).
	ErrTopicExists = &Error{Code: 4460, ModuleCode: 10550}
	// ErrSubscriptionExists is "subscription is already existed" (code 4490).
	ErrSubscriptionExists = &Error{Code: 4490}
	// ErrReceiptHandleInvalid is an invalid or expired receipt handle (code 4430).
	ErrReceiptHandleInvalid = &Error{Code: 4430}
	// ErrBatchDeletePartial is a BatchDeleteMessage where some handles failed (code 6010).
	ErrBatchDeletePartial = &Error{Code: 6010}
	// ErrBatchDeleteFailed is a BatchDeleteMessage where every handle failed (code 6020).
	ErrBatchDeleteFailed = &Error{Code: 6020}
	// ErrNoSubscriber is a publish that no subscription accepts (code 6030).
	ErrNoSubscriber = &Error{Code: 6030}
	// ErrNoMessage is an empty queue after the long poll (code 7000).
	ErrNoMessage = &Error{Code: 7000}

	// ErrPermissionDenied is an action the key may not call: an account
	// action without an admin key, or another account's keys (CMQ's "no cam
	// authentication", code 4000, module 10461).
	ErrPermissionDenied = &Error{Code: 4000, ModuleCode: 10461}
	// ErrAccountNotExist is an unknown APPID (code 4440, module 10900).
	ErrAccountNotExist = &Error{Code: 4440, ModuleCode: 10900}
	// ErrAccountExists is CreateAccount with a taken APPID (code 4460,
	// module 10910).
	ErrAccountExists = &Error{Code: 4460, ModuleCode: 10910}
	// ErrAccountInUse is DeleteAccount while the account still owns topics
	// or queues (code 4000, module 10920).
	ErrAccountInUse = &Error{Code: 4000, ModuleCode: 10920}
	// ErrKeyNotExist is RevokeKey with an unknown or revoked SecretId (code
	// 4440, module 10930).
	ErrKeyNotExist = &Error{Code: 4440, ModuleCode: 10930}
	// ErrLastAdminKey refuses to revoke (or delete the account of) the last
	// admin key (code 4000, module 10940).
	ErrLastAdminKey = &Error{Code: 4000, ModuleCode: 10940}
)

// IsCode reports whether err is or wraps an *Error with the given code.
func IsCode(err error, code int) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// newError splits "(10100)queue is not existed" into module code and text.
func newError(code int, message, requestID string) *Error {
	e := &Error{Code: code, Message: message, RequestID: requestID}
	rest, ok := strings.CutPrefix(message, "(")
	if !ok {
		return e
	}
	num, text, ok := strings.Cut(rest, ")")
	if !ok {
		return e
	}
	if module, err := strconv.Atoi(num); err == nil && module >= 0 {
		e.ModuleCode = module
		e.Message = text
	}
	return e
}

// TransportError is a request that got no CMQ answer: the HTTP round trip
// failed (Err is set) or the status was not 200 (StatusCode and Body are set).
type TransportError struct {
	// Action is the CMQ action that was called.
	Action string
	// StatusCode is the HTTP status, 0 when no response arrived.
	StatusCode int
	// Body is the start of the response body (at most 512 bytes).
	Body string
	// Err is the round-trip error, nil for a bad status.
	Err error
}

// Error describes the failed round trip.
func (e *TransportError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("cmq %s: transport: %v", e.Action, e.Err)
	}
	return fmt.Sprintf("cmq %s: HTTP status %d: %q", e.Action, e.StatusCode, e.Body)
}

// Unwrap returns the round-trip error, e.g. context.DeadlineExceeded.
func (e *TransportError) Unwrap() error { return e.Err }

// ErrMalformedResponse wraps a 200 response whose body is not the JSON the
// action documents.
var ErrMalformedResponse = errors.New("cmq: malformed response")
