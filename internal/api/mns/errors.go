package mns

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/herald-mq/herald/internal/queue"
	"github.com/herald-mq/herald/internal/topic"
)

// Error is an MNS error as it goes on the wire: the HTTP status, the Code
// element and the Message element.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// with returns a copy of e whose Message is formatted anew.
func (e *Error) with(format string, args ...any) *Error {
	return &Error{Status: e.Status, Code: e.Code, Message: fmt.Sprintf(format, args...)}
}

// MNS's error codes (wire.md §2.2–2.3), with the message each usually has.
var (
	errMissingVersion   = &Error{http.StatusBadRequest, "MissingVersionHeader", "The x-mns-version header is required."}
	errMissingAuth      = &Error{http.StatusBadRequest, "MissingAuthorizationHeader", "The Authorization header is required."}
	errInvalidAuth      = &Error{http.StatusBadRequest, "InvalidAuthorizationHeader", "The Authorization header must be \"MNS AccessKeyId:Signature\"."}
	errMissingDate      = &Error{http.StatusBadRequest, "MissingDateHeader", "The Date header is required."}
	errInvalidDate      = &Error{http.StatusBadRequest, "InvalidDateHeader", "The Date header is not an RFC 1123 GMT date."}
	errTimeExpired      = &Error{http.StatusRequestTimeout, "TimeExpired", "The Date of the request is outside the allowed window."}
	errInvalidKeyID     = &Error{http.StatusForbidden, "InvalidAccessKeyId", "The access Id you provided is not exist."}
	errSignature        = &Error{http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided."}
	errDigest           = &Error{http.StatusBadRequest, "InvalidDegist", "The Content-MD5 you specified is not valid."}
	errRequestURL       = &Error{http.StatusBadRequest, "InvalidRequestURL", "The request URL is invalid."}
	errQueryString      = &Error{http.StatusBadRequest, "InvalidQueryString", "The query string is invalid."}
	errMalformedXML     = &Error{http.StatusBadRequest, "MalformedXML", "The XML you provided was not well-formed."}
	errArgument         = &Error{http.StatusBadRequest, "InvalidArgument", "The argument is invalid."}
	errMissingHandle    = &Error{http.StatusBadRequest, "MissingReceiptHandle", "The ReceiptHandle is required."}
	errMissingVT        = &Error{http.StatusBadRequest, "MissingVisibilityTimeout", "The VisibilityTimeout is required."}
	errQueueName        = &Error{http.StatusBadRequest, "InvalidQueueName", "The queue name you provided is invalid."}
	errQueueNameLength  = &Error{http.StatusBadRequest, "QueueNameLengthError", "The length of queue name should between 1 and 256."}
	errTopicName        = &Error{http.StatusBadRequest, "TopicNameInvalid", "The topic name you provided is invalid."}
	errTopicNameLength  = &Error{http.StatusBadRequest, "TopicNameLengthError", "The length of topic name should between 1 and 256."}
	errSubName          = &Error{http.StatusBadRequest, "SubscriptionNameInvalid", "The subscription name you provided is invalid."}
	errSubNameLength    = &Error{http.StatusBadRequest, "SubscriptionNameLengthError", "The length of subscription name should between 1 and 256."}
	errEndpoint         = &Error{http.StatusBadRequest, "EndpointInvalid", "The endpoint you provided is invalid."}
	errQueueExists      = &Error{http.StatusConflict, "QueueAlreadyExist", "The queue you want to create is already exist."}
	errTopicExists      = &Error{http.StatusConflict, "TopicAlreadyExist", "The topic you want to create is already exist."}
	errSubExists        = &Error{http.StatusConflict, "SubscriptionAlreadyExist", "The subscription you want to create is already exist."}
	errMessageNotExist  = &Error{http.StatusNotFound, "MessageNotExist", "Message not exist."}
	errReceiptHandle    = &Error{http.StatusBadRequest, "ReceiptHandleError", "The receipt handle you provided is not valid."}
	errInternal         = &Error{http.StatusInternalServerError, "InternalError", "Internal error."}
	errQueueNotExist    = &Error{http.StatusNotFound, "QueueNotExist", "The queue name you provided is not exist."}
	errTopicNotExist    = &Error{http.StatusNotFound, "TopicNotExist", "The topic name you provided is not exist."}
	errSubNotExist      = &Error{http.StatusNotFound, "SubscriptionNotExist", "The subscription name you provided is not exist."}
	errQueueLimit       = &Error{http.StatusForbidden, "AccessDenied", "The number of queues has reached the limit."}
	errTopicLimit       = &Error{http.StatusForbidden, "AccessDenied", "The number of topics has reached the limit."}
	errSubLimit         = &Error{http.StatusForbidden, "AccessDenied", "The number of subscriptions has reached the limit."}
	errQueueFull        = &Error{http.StatusForbidden, "AccessDenied", "The queue holds as many messages as it may."}
	errMessageTooBig    = &Error{http.StatusBadRequest, "InvalidArgument", "The message is bigger than the MaximumMessageSize."}
	errEmptyMessage     = &Error{http.StatusBadRequest, "InvalidArgument", "The MessageBody should not be empty."}
	errDelayOutOfRange  = &Error{http.StatusBadRequest, "InvalidArgument", "The value of DelaySeconds should not be more than the queue's MessageRetentionPeriod."}
	errQueueAttribute   = &Error{http.StatusBadRequest, "InvalidArgument", "The queue attributes are out of range."}
	errRewindOverRetain = &Error{http.StatusBadRequest, "InvalidArgument", "The queue's rewindSeconds is larger than the MessageRetentionPeriod."}
)

// errRange is InvalidArgument for a number outside its range, worded as MNS
// words it.
func errRange(name string, lo, hi int64, unit string) *Error {
	return errArgument.with("The value of %s should between %d and %d %s.", name, lo, hi, unit)
}

// mapping is the one table from the services' errors to MNS errors; the
// first entry that matches with errors.Is wins.
var mapping = []struct {
	target error
	wire   *Error
}{
	{queue.ErrQueueNotFound, errQueueNotExist},
	{queue.ErrQueueExists, errQueueExists},
	{queue.ErrQueueLimit, errQueueLimit},
	{queue.ErrHeapFull, errQueueFull},
	{queue.ErrMessageTooBig, errMessageTooBig},
	{queue.ErrEmptyMessage, errEmptyMessage},
	{queue.ErrDelayOutOfRange, errDelayOutOfRange},
	{queue.ErrNoMessage, errMessageNotExist},
	{queue.ErrInvalidHandle, errReceiptHandle},
	{queue.ErrRewindOverRetained, errRewindOverRetain},
	{queue.ErrBadAttribute, errQueueAttribute},
	{topic.ErrTopicNotFound, errTopicNotExist},
	{topic.ErrTopicExists, errTopicExists},
	{topic.ErrTopicLimit, errTopicLimit},
	{topic.ErrSubscriptionNotFound, errSubNotExist},
	{topic.ErrSubscriptionExists, errSubExists},
	{topic.ErrSubscriptionLimit, errSubLimit},
}

// wireError turns any error into the MNS error to send, and reports whether
// it was unexpected (an internal error to log).
func wireError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, false
	}
	for _, m := range mapping {
		if errors.Is(err, m.target) {
			return m.wire, false
		}
	}
	return errInternal, true
}
