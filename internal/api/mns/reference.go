package mns

import "net/http"

// The reference of the MNS REST API: what docs/api.md says of its routes
// and errors. The tests hold it to route and to every Error literal of the
// package; internal/api/cmq/apidoc renders it.

// RouteDoc is one operation: a method and path (with names in braces), the
// query parameter that selects it, if any, and the operation's name.
type RouteDoc struct {
	Method string
	Path   string
	// Query is a query parameter (name=value, or name for any value) the
	// operation needs; without it the same method and path are another.
	Query  string
	Action string
	Notes  string
}

// Routes returns every operation route serves.
func Routes() []RouteDoc {
	return []RouteDoc{
		{Method: http.MethodGet, Path: "/queues", Action: "ListQueue", Notes: "headers `x-mns-prefix`, `x-mns-marker`, `x-mns-ret-number` (1–1000), `x-mns-with-meta`"},
		{Method: http.MethodPut, Path: "/queues/{queue}", Action: "CreateQueue"},
		{Method: http.MethodPut, Path: "/queues/{queue}", Query: "metaoverride", Action: "SetQueueAttributes"},
		{Method: http.MethodGet, Path: "/queues/{queue}", Action: "GetQueueAttributes"},
		{Method: http.MethodDelete, Path: "/queues/{queue}", Action: "DeleteQueue"},
		{Method: http.MethodPost, Path: "/queues/{queue}/messages", Action: "SendMessage", Notes: "a `<Messages>` body is BatchSendMessage (1–16 messages, 64 KiB in all)"},
		{Method: http.MethodGet, Path: "/queues/{queue}/messages", Action: "ReceiveMessage", Notes: "`waitseconds` (0–30); `numOfMessages` (1–16) makes it BatchReceiveMessage"},
		{Method: http.MethodGet, Path: "/queues/{queue}/messages", Query: "peekonly=true", Action: "PeekMessage", Notes: "`numOfMessages` (1–16) makes it BatchPeekMessage"},
		{Method: http.MethodDelete, Path: "/queues/{queue}/messages", Action: "DeleteMessage", Notes: "`ReceiptHandle` in the query; a `<ReceiptHandles>` body is BatchDeleteMessage (1–16)"},
		{Method: http.MethodPut, Path: "/queues/{queue}/messages", Action: "ChangeMessageVisibility", Notes: "`receiptHandle` and `visibilityTimeout` in the query"},
		{Method: http.MethodGet, Path: "/topics", Action: "ListTopic", Notes: "the same list headers as ListQueue"},
		{Method: http.MethodPut, Path: "/topics/{topic}", Action: "CreateTopic"},
		{Method: http.MethodPut, Path: "/topics/{topic}", Query: "metaoverride", Action: "SetTopicAttributes"},
		{Method: http.MethodGet, Path: "/topics/{topic}", Action: "GetTopicAttributes"},
		{Method: http.MethodDelete, Path: "/topics/{topic}", Action: "DeleteTopic"},
		{Method: http.MethodPost, Path: "/topics/{topic}/messages", Action: "PublishMessage"},
		{Method: http.MethodGet, Path: "/topics/{topic}/subscriptions", Action: "ListSubscriptionByTopic", Notes: "the same list headers as ListQueue"},
		{Method: http.MethodPut, Path: "/topics/{topic}/subscriptions/{subscription}", Action: "Subscribe"},
		{Method: http.MethodPut, Path: "/topics/{topic}/subscriptions/{subscription}", Query: "metaoverride", Action: "SetSubscriptionAttributes"},
		{Method: http.MethodGet, Path: "/topics/{topic}/subscriptions/{subscription}", Action: "GetSubscriptionAttributes"},
		{Method: http.MethodDelete, Path: "/topics/{topic}/subscriptions/{subscription}", Action: "Unsubscribe"},
	}
}

// Errors returns every error the API answers, with the message it usually
// has (some are sent with a more precise one).
func Errors() []*Error {
	return []*Error{
		errMissingVersion, errMissingAuth, errInvalidAuth, errMissingDate, errInvalidDate, errTimeExpired,
		errInvalidKeyID, errSignature, errDigest, errRequestURL, errQueryString, errMalformedXML, errArgument,
		errMissingHandle, errMissingVT, errQueueName, errQueueNameLength, errTopicName, errTopicNameLength,
		errSubName, errSubNameLength, errEndpoint, errQueueExists, errTopicExists, errSubExists,
		errMessageNotExist, errReceiptHandle, errInternal, errQueueNotExist, errTopicNotExist, errSubNotExist,
		errQueueLimit, errTopicLimit, errSubLimit, errQueueFull, errMessageTooBig, errEmptyMessage,
		errDelayOutOfRange, errQueueAttribute, errRewindOverRetain,
	}
}
