package topic

import (
	"errors"

	"github.com/herald-mq/herald/internal/delivery/retry"
	"github.com/herald-mq/herald/internal/push"
)

// Filter types of a topic.
const (
	// FilterTag delivers by filterTag ∩ msgTag.
	FilterTag = 1
	// FilterRouting delivers by bindingKey ~ routingKey.
	FilterRouting = 2
)

// Protocols of a subscription.
const (
	ProtocolHTTP  = "http"
	ProtocolQueue = "queue"
)

// Retry strategies and content formats of a subscription: the wire words
// are defined once, by the packages that act on them (delivery/retry,
// push), and stored as strings here.
const (
	BackoffRetry          = retry.Backoff
	ExponentialDecayRetry = retry.ExponentialDecay
	FormatJSON            = string(push.FormatJSON)
	FormatSimplified      = string(push.FormatSimplified)
	FormatXML             = string(push.FormatXML)
	DialectCMQ            = string(push.DialectCMQ)
	DialectMNS            = string(push.DialectMNS)
)

// Topic is one topic's settings.
type Topic struct {
	AppID          int64  `json:"appId"`
	Name           string `json:"name"`
	ID             string `json:"id"`
	MaxMsgSize     int    `json:"maxMsgSize"`
	FilterType     int    `json:"filterType"`
	CreateTime     int64  `json:"createTime"`
	LastModifyTime int64  `json:"lastModifyTime"`
}

// Subscription is one subscription's settings.
type Subscription struct {
	AppID     int64  `json:"appId"`
	TopicName string `json:"topicName"`
	Name      string `json:"name"`
	ID        string `json:"id"`
	// Protocol is "http" or "queue", lower case; ProtocolAsSent is how the
	// subscriber spelled it, which the API echoes.
	Protocol       string `json:"protocol"`
	ProtocolAsSent string `json:"protocolAsSent"`
	// Endpoint is the URL for http, the queue name for queue.
	Endpoint string `json:"endpoint"`
	// EndpointAsSent is the endpoint as an MNS Subscribe gave it
	// (acs:mns:{region}:{accountId}:queues/{name} for a queue), which the MNS
	// API echoes; empty when it is Endpoint.
	EndpointAsSent      string `json:"endpointAsSent,omitempty"`
	NotifyStrategy      string `json:"notifyStrategy"`
	NotifyContentFormat string `json:"notifyContentFormat"`
	// Dialect is "MNS" for Alibaba MNS-style signed pushes, else CMQ
	// (herald's extension; XML format implies MNS).
	Dialect string `json:"dialect,omitempty"`
	// WebhookSecrets sign pushes with Standard Webhooks, newest first; more
	// than one while a rotation is under way.
	WebhookSecrets []string `json:"webhookSecrets,omitempty"`
	FilterTags     []string `json:"filterTags,omitempty"`
	BindingKeys    []string `json:"bindingKeys,omitempty"`
	CreateTime     int64    `json:"createTime"`
	LastModifyTime int64    `json:"lastModifyTime"`
}

// Errors of the topic service; the API maps them to wire codes.
var (
	ErrTopicNotFound        = errors.New("topic is not existed, or deleted")
	ErrTopicExists          = errors.New("topic is already existed")
	ErrTopicLimit           = errors.New("number of topics has reached the limit")
	ErrTopicHasSubscription = errors.New("subscriptions exist, the topic cannot be deleted")
	ErrSubscriptionNotFound = errors.New("subscription is not existed, or deleted")
	ErrSubscriptionExists   = errors.New("subscription is already existed")
	ErrSubscriptionLimit    = errors.New("number of subscription has reached the limit")
	ErrNoSubscription       = errors.New("topic has no subscription")
	ErrNoMatch              = errors.New("no subscription matches the message")
)
