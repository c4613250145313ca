package cmq

import (
	"errors"
	"fmt"

	"github.com/herald-mq/herald/internal/account"
	"github.com/herald-mq/herald/internal/engine"
	"github.com/herald-mq/herald/internal/queue"
	"github.com/herald-mq/herald/internal/topic"
)

// Error is a CMQ API error as it goes on the wire: code, module code and text.
// The envelope's message is "(module)text".
type Error struct {
	Code   int
	Module int
	Text   string
}

func (e *Error) Error() string { return fmt.Sprintf("(%d)%s", e.Module, e.Text) }

func errf(code, module int, format string, args ...any) *Error {
	return &Error{Code: code, Module: module, Text: fmt.Sprintf(format, args...)}
}

// The common parameter and protocol errors (CMQ's error page, wire.md §1.9).
var (
	errMissing = func(name string) *Error { return errf(4000, 10390, "lacked of required parameter %s", name) }
	errRange   = func(name string) *Error {
		return errf(4000, 10350, "parameter %s value or length is out of range", name)
	}
	errType       = func(name string) *Error { return errf(4000, 10360, "parameter %s error type", name) }
	errBatchSize  = func(name string) *Error { return errf(4000, 10370, "%s parameter batch size is out of range", name) }
	errConsequent = func(name string) *Error { return errf(4000, 10380, "%s parameter is not consequent", name) }
	errRepeated   = func(name string) *Error { return errf(4000, 10330, "parameter %s is NOT a repeatable parameter", name) }
	errNoAction   = func(name string) *Error { return errf(4000, 10430, "action name %s is not existed", name) }
	errMethod     = func(m string) *Error { return errf(4000, 10410, "unexpected http %s only GET or POST is supported", m) }
	errParse      = func(what string) *Error {
		return errf(4000, 10420, "cannot parse %s, or request size is more than 1MB", what)
	}
	errAuth       = errf(4100, 10030, "authentication failed")
	errNoSecretID = errf(4100, 10270, "secret id is not existed")
	errAKID       = errf(4000, 10450, "secret id dosen't begin with AKID")
	errInternal   = errf(6000, 10050, "server internal error")
)

// mapping is the one table from the services' errors to CMQ codes; the
// first entry that matches with errors.Is wins.
var mapping = []struct {
	target error
	wire   *Error
}{
	{topic.ErrTopicNotFound, errf(4440, 10600, "topic is not existed, or deleted")},
	{topic.ErrTopicExists, errf(4460, 10550, "topic is already existed")},
	{topic.ErrTopicLimit, errf(4450, 10610, "number of topics has reached the limit")},
	{topic.ErrTopicHasSubscription, errf(4000, 10540, "subscriptions exist, the topic cannot be deleted")},
	{topic.ErrSubscriptionNotFound, errf(4440, 10560, "subscription is not existed, or deleted")},
	{topic.ErrSubscriptionExists, errf(4490, 10470, "subscribtion is already existed")},
	{topic.ErrSubscriptionLimit, errf(4500, 10480, "number of subscription has reached the limit")},
	{topic.ErrNoSubscription, errf(6030, 10650, "topic has no subscription, please create a subscription before publishing message")},
	{topic.ErrNoMatch, errf(6030, 10730, "no bindingKey or filterTag matches")},
	{queue.ErrQueueNotFound, errf(4440, 10100, "queue is not existed, or deleted")},
	// CMQ documents 4460 without a module code; 10210 is ours.
	{queue.ErrQueueExists, errf(4460, 10210, "queue is already existed,case insensitive")},
	{queue.ErrQueueLimit, errf(4450, 10220, "number of queues has reached the limit")},
	{queue.ErrHeapFull, errf(4410, 10240, "reach maximum retention number of message")},
	{queue.ErrMessageTooBig, errf(4400, 10230, "exceed maximum message size")},
	{queue.ErrEmptyMessage, errf(4000, 10120, "message body can't be empty")},
	{queue.ErrDelayOutOfRange, errf(4000, 10692, "delay seconds is out of range")},
	{queue.ErrNoMessage, errf(7000, 10200, "no message")},
	{queue.ErrInvalidHandle, errf(4430, 10260, "receipt handle is invalid")},
	{queue.ErrCannotRewind, errf(6050, 10670, "queue cannot be rewinded")},
	{queue.ErrRewindTime, errf(4000, 10680, "invalid rewind time")},
	{queue.ErrRewindOverRetained, errf(4000, 10700, "rewindSeconds is larger than msgRetentionSeconds")},
	{queue.ErrDeadLetterNotFound, errf(4440, 10100, "dead letter queue is not existed, or deleted")},
	{queue.ErrDeadLetterSelf, errf(4000, 10350, "parameter deadLetterQueueName value or length is out of range")},
	{queue.ErrBadAttribute, errf(4000, 10350, "parameter value or length is out of range")},
	// CMQ documents neither; the codes are ours. Both may be retried.
	{engine.ErrStorageFull, errf(6000, 10800, "insufficient storage: the engine's disk is full, retry once space is freed")},
	{engine.ErrUnavailable, errf(6000, 10810, "engine unavailable, retry")},
	// Accounts and keys are herald's extension; the module codes are ours.
	// (A request signed with an unknown SecretId is 4100/10270 before any
	// action runs; ErrNotFound here is RevokeKey's secretId.)
	{account.ErrNotFound, errf(4440, 10930, "secret id is not existed, or revoked")},
	{account.ErrAccountNotFound, errf(4440, 10900, "account is not existed, or deleted")},
	{account.ErrAccountExists, errf(4460, 10910, "account is already existed")},
	{account.ErrLastAdminKey, errf(4000, 10940, "the last admin key cannot be revoked")},
}

// wireError turns any error into the CMQ error to send, and reports whether it
// was unexpected (an internal error to log).
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
