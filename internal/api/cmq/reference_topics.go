package cmq

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/herald-mq/herald/internal/push"
	"github.com/herald-mq/herald/internal/queue"
	"github.com/herald-mq/herald/internal/topic"
)

// The reference of the topic, subscription, publish and route actions.

const (
	groupTopics        = "Topics"
	groupSubscriptions = "Subscriptions"
	groupPublish       = "Publishing"
	groupRoutes        = "Routes"
)

var nameLimit = "a letter, then letters, digits, `-` and `_`; 1–64 characters (`" + nameRE.String() + "`)"

func topicNameParam(example string) ParamDoc {
	return ParamDoc{Name: "topicName", Type: "string", Required: true, Limit: nameLimit, Desc: "the topic", Example: example}
}

func subscriptionNameParam(example string) ParamDoc {
	return ParamDoc{Name: "subscriptionName", Type: "string", Required: true, Limit: nameLimit, Desc: "the subscription, unique within its topic", Example: example}
}

// pageDocs are searchWord, offset and limit as pageParams reads them.
func pageDocs(maxOffset, maxLimit int64, search string) []ParamDoc {
	return []ParamDoc{
		{Name: "searchWord", Type: "string", Desc: "only names containing it", Example: search},
		{Name: "offset", Type: "int", Range: span(0, maxOffset), Default: "0", Desc: "items to skip", Example: "0"},
		{Name: "limit", Type: "int", RequiredWhen: "with offset", Range: span(0, maxLimit), Default: strconv.Itoa(defaultListLimit), Desc: "items to return", Example: "20"},
	}
}

func filterTagParam(example string) ParamDoc {
	return ParamDoc{
		Name: "filterTag", Type: "string", List: maxFilterTags,
		Limit: fmt.Sprintf("1–%d characters each; with bindingKey, %d values in all", maxFilterTagLen, maxFilterTags),
		Desc:  "filterType 1: the subscription receives the messages carrying one of these msgTags (none: every message)", Example: example,
	}
}

func bindingKeyParam(example string) ParamDoc {
	return ParamDoc{
		Name: "bindingKey", Type: "string", List: maxBindingKeys,
		RequiredWhen: "the topic's filterType is 2 (Subscribe)",
		Limit:        fmt.Sprintf("1–%d bytes and at most %d dots each", maxKeyBytes, maxKeyDots),
		Desc:         "filterType 2: routing patterns matched against a message's routingKey (`*` one word, `#` zero or more)", Example: example,
	}
}

var notifyStrategyLimit = "`" + topic.BackoffRetry + "` or `" + topic.ExponentialDecayRetry + "`"

var formatLimit = "`" + topic.FormatJSON + "`, `" + topic.FormatSimplified + "` or `" + topic.FormatXML + "` (protocol queue: `" + topic.FormatSimplified + "` only)"

var dialectDoc = ParamDoc{
	Name: "dialect", Type: "enum", Limit: "`" + topic.DialectCMQ + "` or `" + topic.DialectMNS + "`; http subscriptions only",
	Default: topic.DialectCMQ + " (" + topic.DialectMNS + " with notifyContentFormat XML)", Herald: true,
	Desc: "push as CMQ does, or as Alibaba MNS does (MNS formats, SHA1withRSA `Authorization` signature)", Example: topic.DialectCMQ,
}

var webhookSecretDoc = ParamDoc{
	Name: "webhookSecret", Type: "string", Limit: "`generate`, or `" + push.WebhookSecretPrefix + "` and the base64 of a 24–64 byte key; http subscriptions only", Herald: true,
	Desc: "sign pushes with Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`); `generate` makes a secret, returned once as webhookSecret", Example: "generate",
}

func retireDoc(desc string) ParamDoc {
	return ParamDoc{Name: "retireWebhookSecrets", Type: "bool", Limit: "`1` or `true`; anything else is false", Herald: true, Desc: desc, Example: "1"}
}

var subscriptionResponseSecret = FieldDoc{Name: "webhookSecret", Type: "string", Herald: true, When: "webhookSecret was given", Desc: "the new Standard Webhooks secret"}

var topicDocs = []ActionDoc{
	{
		Name: "CreateTopic", Group: groupTopics, Summary: "Creates a topic.",
		Params: []ParamDoc{
			topicNameParam("invoices"),
			{Name: "maxMsgSize", Type: "int", Range: span(minTopicMsgSize, maxTopicMsgSize), Default: strconv.Itoa(defaultTopicSize), Desc: "largest message body, bytes (CMQ documents at most 65536; herald takes up to 1 MiB, which SDKs send)", Example: "65536"},
			{Name: "filterType", Type: "int", Range: span(topic.FilterTag, topic.FilterRouting), Default: strconv.Itoa(topic.FilterTag), Desc: "1: subscriptions filter by msgTag (filterTag); 2: by routingKey (bindingKey)", Example: "1"},
		},
		Fields: []FieldDoc{{Name: "topicId", Type: "string", Desc: "the topic's id"}},
		Errors: []error{errTopicName, topic.ErrTopicExists, topic.ErrTopicLimit},
	},
	{
		Name: "SetTopicAttributes", Group: groupTopics, Summary: "Changes a topic's maxMsgSize.",
		Params: []ParamDoc{
			topicNameParam("orders"),
			{Name: "maxMsgSize", Type: "int", Range: span(minTopicMsgSize, maxTopicMsgSize), Default: "unchanged", Desc: "largest message body, bytes", Example: "65536"},
		},
		Errors: []error{errTopicName, topic.ErrTopicNotFound},
	},
	{
		Name: "GetTopicAttributes", Group: groupTopics, Summary: "Returns a topic's attributes.",
		Params: []ParamDoc{topicNameParam("orders")},
		Fields: []FieldDoc{
			{Name: "topicId", Type: "string", Desc: "the topic's id"},
			{Name: "topicName", Type: "string", Desc: "its name"},
			{Name: "msgCount", Type: "int", Desc: "messages retained"},
			{Name: "maxMsgSize", Type: "int", Desc: "largest message body, bytes"},
			{Name: "msgRetentionSeconds", Type: "int", Desc: "how long messages are kept: always " + strconv.Itoa(topicRetentionSec)},
			{Name: "createTime", Type: "int", Desc: "Unix seconds"},
			{Name: "lastModifyTime", Type: "int", Desc: "Unix seconds"},
			{Name: "filterType", Type: "int", Desc: "1 (msgTag) or 2 (routingKey)"},
			{Name: "createUin", Type: "int", Desc: "the account's APPID"},
			{Name: "qps", Type: "int", Desc: "always 0"},
		},
		Errors: []error{errTopicName, topic.ErrTopicNotFound},
	},
	{
		Name: "ListTopic", Group: groupTopics, Summary: "Lists the account's topics by name.",
		Params: pageDocs(maxListOffset, maxListLimit, "ord"),
		Fields: []FieldDoc{
			{Name: "totalCount", Type: "int", Desc: "topics matching searchWord"},
			{Name: "topicList", Type: "array", Desc: "the page"},
			{Name: "topicList[].topicId", Type: "string"},
			{Name: "topicList[].topicName", Type: "string"},
		},
	},
	{
		Name: "DeleteTopic", Group: groupTopics, Summary: "Deletes a topic without subscriptions, and its messages.",
		Params: []ParamDoc{topicNameParam("drafts")},
		Errors: []error{errTopicName, topic.ErrTopicNotFound, topic.ErrTopicHasSubscription},
	},
}

var subscriptionDocs = []ActionDoc{
	{
		Name: "Subscribe", Group: groupSubscriptions, Summary: "Subscribes an HTTP endpoint or a queue to a topic.",
		Params: []ParamDoc{
			topicNameParam("orders"),
			subscriptionNameParam("billing"),
			{Name: "protocol", Type: "enum", Required: true, Limit: "`" + topic.ProtocolHTTP + "` or `" + topic.ProtocolQueue + "` (any case; returned as sent)", Desc: "push over HTTP, or put into a queue of the account", Example: topic.ProtocolHTTP},
			{Name: "endpoint", Type: "string", Required: true, Limit: fmt.Sprintf("http: an `http://` or `https://` URL of at most %d characters, no blanks, no user info, no literal loopback/private/link-local address (see `--allow-private-endpoints`); queue: a queue name", maxEndpointLen), Desc: "where messages go", Example: "https://example.com/herald"},
			{Name: "notifyStrategy", Type: "enum", Limit: notifyStrategyLimit, Default: topic.ExponentialDecayRetry, Desc: "retry schedule of failed pushes", Example: topic.ExponentialDecayRetry},
			{Name: "notifyContentFormat", Type: "enum", Limit: formatLimit, Default: topic.FormatJSON + " (queue: " + topic.FormatSimplified + ")", Desc: "push body: CMQ's JSON envelope, the raw body, or MNS's XML (implies dialect MNS)", Example: topic.FormatJSON},
			filterTagParam("paid"),
			bindingKeyParam("order.*.paid"),
			dialectDoc,
			webhookSecretDoc,
			retireDoc("accepted as on SetSubscriptionAttributes; a new subscription has one secret at most, so it changes nothing"),
		},
		Fields: []FieldDoc{{Name: "subscriptionId", Type: "string", Desc: "the subscription's id"}, subscriptionResponseSecret},
		Errors: []error{
			errTopicName, errSubscriptionName, topic.ErrTopicNotFound, errProtocol, errEndpointBlank, errEndpointFormat, errEndpointIllegal,
			errEndpointPrivate, errStrategy, errContentFormat, errQueueNeedsSimple, errFilterTagCount, errTooManyKeys, errTooManyBoth,
			errRange("filterTag"), errRange("bindingKey"), errDelimiters, errLackBindingKey, errRange("dialect"), errRange("webhookSecret"),
			errRange("dialect/webhookSecret (http subscriptions only)"), queue.ErrQueueNotFound, topic.ErrSubscriptionExists, topic.ErrSubscriptionLimit,
		},
		Notes: "A subscription with protocol queue takes notifyContentFormat SIMPLIFIED and neither dialect nor webhookSecret.",
	},
	{
		Name: "Unsubscribe", Group: groupSubscriptions, Summary: "Deletes a subscription.",
		Params: []ParamDoc{topicNameParam("orders"), subscriptionNameParam("audit")},
		Errors: []error{errTopicName, errSubscriptionName, topic.ErrSubscriptionNotFound},
	},
	{
		Name: "GetSubscriptionAttributes", Group: groupSubscriptions, Summary: "Returns a subscription's attributes and delivery counters.",
		Params: []ParamDoc{topicNameParam("orders"), subscriptionNameParam("audit")},
		Fields: []FieldDoc{
			{Name: "topicOwner", Type: "string", Desc: "the account's APPID"},
			{Name: "msgCount", Type: "int", Desc: "the backlog: messages waiting in the retry stream for their next attempt"},
			{Name: "protocol", Type: "string", Desc: "as sent to Subscribe"},
			{Name: "protocal", Type: "string", Desc: "the same, under the spelling CMQ's SDKs read"},
			{Name: "endpoint", Type: "string"},
			{Name: "notifyStrategy", Type: "string"},
			{Name: "notifyContentFormat", Type: "string"},
			{Name: "createTime", Type: "int", Desc: "Unix seconds"},
			{Name: "lastModifyTime", Type: "int", Desc: "Unix seconds"},
			{Name: "bindingKey", Type: "array of string"},
			{Name: "filterTag", Type: "array of string"},
			{Name: "filterTags", Type: "array of string", Desc: "the same, under the spelling some SDKs read"},
			{Name: "subscriptionId", Type: "string"},
			{Name: "subscriptionName", Type: "string"},
			{Name: "topicName", Type: "string"},
			{Name: "dialect", Type: "string", Herald: true, Desc: "`CMQ` or `MNS`"},
			{Name: "webhookSecretCount", Type: "int", Herald: true, Desc: "Standard Webhooks secrets signing pushes (0–2)"},
			{Name: "givenUpMsgCount", Type: "int", Herald: true, Desc: "messages whose retries ran out"},
			{Name: "signatureRejectedCount", Type: "int", Herald: true, Desc: "signed pushes answered 403"},
		},
		Errors: []error{errTopicName, errSubscriptionName, topic.ErrSubscriptionNotFound},
	},
	{
		Name: "SetSubscriptionAttributes", Group: groupSubscriptions, Summary: "Changes a subscription; absent parameters leave it as it is.",
		Params: []ParamDoc{
			topicNameParam("orders"),
			subscriptionNameParam("audit"),
			{Name: "notifyStrategy", Type: "enum", Limit: notifyStrategyLimit, Default: "unchanged", Desc: "retry schedule of failed pushes", Example: topic.BackoffRetry},
			{Name: "notifyContentFormat", Type: "enum", Limit: formatLimit, Default: "unchanged", Desc: "push body", Example: topic.FormatJSON},
			filterTagParam("paid"),
			bindingKeyParam("order.*.paid"),
			dialectDoc,
			func() ParamDoc {
				p := webhookSecretDoc
				p.Desc = "a new Standard Webhooks secret, which signs alongside the previous one (rotation; two at most); `generate` makes one, returned once as webhookSecret"
				return p
			}(),
			retireDoc("keep only the newest webhook secret (ends a rotation)"),
		},
		Fields: []FieldDoc{subscriptionResponseSecret},
		Errors: []error{
			errTopicName, errSubscriptionName, topic.ErrTopicNotFound, topic.ErrSubscriptionNotFound, errStrategy, errContentFormat, errQueueNeedsSimple,
			errTooManyTags, errTooManyKeys, errTooManyBoth, errRange("filterTag"), errRange("bindingKey"), errDelimiters, errLackBindingKey,
			errRange("dialect"), errRange("webhookSecret"), errRange("dialect/webhookSecret (http subscriptions only)"),
		},
		Notes: "filterTag.n and bindingKey.n replace the subscription's lists when given.",
	},
	{
		Name: "ClearSubscriptionFilterTags", Group: groupSubscriptions, Summary: "Removes a subscription's filterTags: it receives every message again.",
		Params: []ParamDoc{topicNameParam("orders"), subscriptionNameParam("audit")},
		Errors: []error{errTopicName, errSubscriptionName, topic.ErrSubscriptionNotFound},
	},
	{
		Name: "ListSubscriptionByTopic", Group: groupSubscriptions, Summary: "Lists a topic's subscriptions by name.",
		Params: append([]ParamDoc{topicNameParam("orders")}, pageDocs(maxSubscriptionOffset, maxSubscriptionLimit, "aud")...),
		Fields: []FieldDoc{
			{Name: "totalCount", Type: "int", Desc: "subscriptions matching searchWord"},
			{Name: "subscriptionList", Type: "array", Desc: "the page"},
			{Name: "subscriptionList[].subscriptionId", Type: "string"},
			{Name: "subscriptionList[].subscriptionName", Type: "string"},
			{Name: "subscriptionList[].protocol", Type: "string"},
			{Name: "subscriptionList[].endpoint", Type: "string"},
		},
		Errors: []error{errTopicName, topic.ErrTopicNotFound},
	},
}

var publishParams = []ParamDoc{
	{Name: "msgTag", Type: "string", List: maxMsgTags, Limit: fmt.Sprintf("1–%d characters each", maxMsgTagLen), Desc: "tags matched against subscriptions' filterTags (filterType 1)", Example: "paid"},
	{Name: "routingKey", Type: "string", RequiredWhen: "the topic's filterType is 2", Limit: fmt.Sprintf("at most %d bytes and %d dots, no `*` or `#`", maxKeyBytes, maxKeyDots), Desc: "matched against subscriptions' bindingKeys (filterType 2)", Example: "order.eu.paid"},
}

var publishErrors = []error{
	errTopicName, topic.ErrTopicNotFound, errTooManyMsgTags, errRange("msgTag"), errLackRouting, errRange("routingKey"), errDelimiters,
	errRoutingWild, errEmptyBody, errBodyTooBig, topic.ErrNoSubscription, topic.ErrNoMatch,
}

var publishDocs = []ActionDoc{
	{
		Name: "PublishMessage", Group: groupPublish, Summary: "Publishes a message to a topic; answered once stored.",
		Params: append([]ParamDoc{
			topicNameParam("orders"),
			{Name: "msgBody", Type: "string", Required: true, Limit: "1 byte to the topic's maxMsgSize", Desc: "the message", Example: "order 42 paid"},
		}, publishParams...),
		Fields: []FieldDoc{{Name: "msgId", Type: "string", Desc: "the message's id"}},
		Errors: publishErrors,
	},
	{
		Name: "BatchPublishMessage", Group: groupPublish, Summary: "Publishes up to 16 messages with the same tags or routing key; all are checked before any is stored.",
		Params: append([]ParamDoc{
			topicNameParam("orders"),
			{Name: "msgBody", Type: "string", List: maxBatch, Required: true, Limit: fmt.Sprintf("1 byte to the topic's maxMsgSize each, %d bytes in all", maxBatchBytes), Desc: "the messages", Example: "order 42 paid"},
		}, publishParams...),
		Fields: []FieldDoc{
			{Name: "msgList", Type: "array", Desc: "one per msgBody, in order"},
			{Name: "msgList[].msgId", Type: "string"},
		},
		Errors: append(slices.Clone(publishErrors), errBatchTooBig),
	},
}

var routeDocs = []ActionDoc{
	{
		Name: "QueryQueueRoute", Group: groupRoutes, Herald: true,
		Summary: "Where to send a queue's data-flow requests (TDMQ-era CMQ SDKs ask first): herald serves everything at the same address, so there is none.",
		Fields:  []FieldDoc{{Name: "addr", Type: "array of string", Herald: true, Desc: "always empty"}},
	},
	{
		Name: "QueryTopicRoute", Group: groupRoutes, Herald: true,
		Summary: "Where to send a topic's data-flow requests (TDMQ-era CMQ SDKs ask first): herald serves everything at the same address, so there is none.",
		Fields:  []FieldDoc{{Name: "addr", Type: "array of string", Herald: true, Desc: "always empty"}},
	},
}
