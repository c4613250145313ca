// Package mns serves the Alibaba Cloud MNS REST API (x-mns-version
// 2015-06-06, wire.md §2.1–2.5) so that the MNS SDKs work against herald
// unchanged: resources under /queues and /topics, verbs and query parameters
// as MNS has them, XML bodies in the namespace http://mns.aliyuncs.com/doc/v1/
// (requests are read by local element names, since the Go SDK sends none),
// requests signed with "MNS AccessKeyId:Signature" (HMAC-SHA1) using an
// account's SecretId and SecretKey, and errors as MNS sends them: an HTTP
// status and an <Error> document with Code, Message, RequestId and HostId.
//
// It serves the same queues, topics and subscriptions as the CMQ API, through
// the same services: the package checks MNS's names, limits and defaults for
// what is made or changed through it and maps the services' errors to MNS
// codes in one table (errors.go). Subscriptions made here push in the MNS
// dialect; their queue endpoints receive the notification in the
// subscription's format.
package mns
