package mqtt

import (
	"errors"
	"fmt"
	"net/http"
)

// The gateway's errors. Each one maps to exactly one HTTP status in
// statusTable, and its text is the plain-text body of the answer.
var (
	// ErrBadPath is a URL path other than /topics/{url-encoded-topic}.
	ErrBadPath = errors.New("invalid path: use POST /topics/{url-encoded-topic}")
	// ErrBadTopic is a topic name that MQTT does not allow to publish to.
	ErrBadTopic = errors.New("invalid topic")
	// ErrBadQoS is a qos parameter other than 0, 1 or 2.
	ErrBadQoS = errors.New("invalid qos")
	// ErrBadRetained is a retained parameter other than true or false.
	ErrBadRetained = errors.New("invalid retained")
	// ErrBadParameter is a malformed client_id, username, MQTT 5 property or
	// query string.
	ErrBadParameter = errors.New("invalid parameter")
	// ErrBadPayload is a body that is too large, unreadable, or not UTF-8
	// while PayloadFormatIndicator is 1.
	ErrBadPayload = errors.New("invalid payload")
	// ErrUnauthenticated is a request without valid credentials.
	ErrUnauthenticated = errors.New("authentication failed")
	// ErrNotAuthorized is a request whose user may not publish to the topic.
	ErrNotAuthorized = errors.New("not authorized to publish to this topic")
	// ErrMethodNotAllowed is any method but POST.
	ErrMethodNotAllowed = errors.New("method not allowed: use POST")
	// ErrRateLimited is a request over the user's http_publish_rate.
	ErrRateLimited = errors.New("too many requests: publish rate exceeded")
	// ErrStopped is a publish into a broker that is not running.
	ErrStopped = errors.New("broker is not running")
	// ErrNotStored is a publish during which a write to the engine failed,
	// so that it may not survive a restart; the gateway answers 500.
	ErrNotStored = errors.New("mqtt: storing broker state in the engine failed")
)

// RequestError says which part of a publish request is wrong and why. It
// unwraps to one of the ErrBadXxx sentinels.
type RequestError struct {
	// Param is the parameter as the documentation spells it, e.g. "qos",
	// "topic" or "UserProp.2.Key".
	Param string
	// Reason is a short explanation, e.g. "must be 0 or 1".
	Reason string
	// Err is the sentinel that decides the HTTP status.
	Err error
}

// Error is the text of the 400 answer, e.g. "invalid qos: must be 0, 1 or 2".
func (e *RequestError) Error() string { return fmt.Sprintf("invalid %s: %s", e.Param, e.Reason) }

// Unwrap returns the sentinel.
func (e *RequestError) Unwrap() error { return e.Err }

func badParam(param, reason string) *RequestError {
	return &RequestError{Param: param, Reason: reason, Err: ErrBadParameter}
}

// statusTable is the one table from the gateway's errors to HTTP status
// codes, as the TDMQ HTTP publish documentation lists them (authorization
// failures are 401 there, not 403). The first entry that matches with
// errors.Is wins; anything else is a 500.
var statusTable = []struct {
	target error
	status int
}{
	{ErrBadPath, http.StatusBadRequest},
	{ErrBadTopic, http.StatusBadRequest},
	{ErrBadQoS, http.StatusBadRequest},
	{ErrBadRetained, http.StatusBadRequest},
	{ErrBadParameter, http.StatusBadRequest},
	{ErrBadPayload, http.StatusBadRequest},
	{ErrUnauthenticated, http.StatusUnauthorized},
	{ErrNotAuthorized, http.StatusUnauthorized},
	{ErrMethodNotAllowed, http.StatusMethodNotAllowed},
	{ErrRateLimited, http.StatusTooManyRequests},
}

// internalErrorText is the body of every 500; the cause goes to the log only.
const internalErrorText = "internal error"

// httpStatus returns the status and body for err, and whether it was
// unexpected (an internal error worth logging).
func httpStatus(err error) (status int, body string, internal bool) {
	for _, m := range statusTable {
		if errors.Is(err, m.target) {
			return m.status, err.Error(), false
		}
	}
	return http.StatusInternalServerError, internalErrorText, true
}
