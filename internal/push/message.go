package push

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// Format is a subscription's notifyContentFormat.
type Format string

// Formats. The empty Format is the dialect's default: JSON for CMQ, XML for MNS.
const (
	// FormatJSON is a JSON document holding the message and its attributes.
	FormatJSON Format = "JSON"
	// FormatSimplified is the raw message body; attributes go in headers.
	FormatSimplified Format = "SIMPLIFIED"
	// FormatXML is the MNS Notification document. It implies DialectMNS.
	FormatXML Format = "XML"
)

// Dialect says whose push a receiver expects: CMQ's or MNS's. CMQ's Subscribe
// has no such parameter, so a subscription asks for MNS-style pushes either
// with an explicit Dialect (stored with the subscription by the caller) or
// by choosing FormatXML, which only MNS has. The empty Dialect is CMQ.
type Dialect string

// Dialects.
const (
	// DialectCMQ pushes as Tencent CMQ does: unsigned, x-cmq-* headers.
	DialectCMQ Dialect = "CMQ"
	// DialectMNS pushes as Alibaba MNS does: x-mns-* headers, SHA1withRSA
	// signature, path /notifications when the endpoint has none.
	DialectMNS Dialect = "MNS"
)

// Message is what is pushed: one topic message as one subscription sees it.
type Message struct {
	// TopicOwner is the APPID (account id) that owns the topic.
	TopicOwner int64
	// TopicName is the topic's name.
	TopicName string
	// SubscriptionName is the subscription's name.
	SubscriptionName string
	// Subscriber is the MNS Subscriber, the subscribing account. Empty means
	// TopicOwner.
	Subscriber string
	// ID is the message id (CMQ msgId, MNS MessageId).
	ID string
	// Body is the message body as published.
	Body []byte
	// Tags are the message's tags (CMQ msgTag); MNS has one, and more are
	// joined with ", " as CMQ does.
	Tags []string
	// PublishTime is when the message was published.
	PublishTime time.Time
}

func (m *Message) subscriber() string {
	if m.Subscriber != "" {
		return m.Subscriber
	}
	return strconv.FormatInt(m.TopicOwner, 10)
}

// Target is where and how to push.
type Target struct {
	// URL is the endpoint, an absolute http or https URL.
	URL string
	// Format is the body's form. Empty: the dialect's default.
	Format Format
	// Dialect is CMQ or MNS; FormatXML implies MNS. Empty: CMQ.
	Dialect Dialect
	// WebhookSecrets, when present, add Standard Webhooks headers signed
	// with each secret ("whsec_<base64>"); several secrets give several
	// signatures, for rotation.
	WebhookSecrets []string
}

// dialect returns the effective dialect.
func (t *Target) dialect() Dialect {
	if t.Dialect == DialectMNS || t.Format == FormatXML {
		return DialectMNS
	}
	return DialectCMQ
}

// format returns the effective format.
func (t *Target) format() Format {
	if t.Format != "" {
		return t.Format
	}
	if t.dialect() == DialectMNS {
		return FormatXML
	}
	return FormatJSON
}

// Attempt identifies one try of a delivery.
type Attempt struct {
	// Number counts the tries of this delivery, 1 for the first.
	Number int
	// DeliveryID stays the same across the retries of one delivery (one
	// message to one subscription); it is the webhook-id. Empty: derived
	// from the message and subscription.
	DeliveryID string
}

// Job is one attempt to push a message to a target.
type Job struct {
	// Message is what to push.
	Message Message
	// Target is where to push it.
	Target Target
	// Attempt says which try this is.
	Attempt Attempt
	// Ref is the caller's handle on the delivery (say, the engine message
	// to acknowledge). push never looks at it and hands it back with the
	// Outcome.
	Ref any
}

func (j *Job) deliveryID() string {
	if j.Attempt.DeliveryID != "" {
		return j.Attempt.DeliveryID
	}
	m := &j.Message
	h := sha256.New()
	for _, s := range []string{strconv.FormatInt(m.TopicOwner, 10), m.TopicName, m.SubscriptionName, m.ID} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "msg_" + hex.EncodeToString(h.Sum(nil)[:16])
}
