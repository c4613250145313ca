package delivery

import (
	"github.com/herald-mq/herald/internal/push"
	"github.com/herald-mq/herald/internal/topic"
)

// queueBody is what a protocol=queue subscription puts in its queue: the
// body as published for CMQ subscriptions (always SIMPLIFIED), and for MNS
// ones the notification in the subscription's format, as MNS delivers to a
// queue endpoint.
func queueBody(a *Attempt) []byte {
	sub := a.Sub
	if sub.Dialect != topic.DialectMNS || sub.NotifyContentFormat == topic.FormatSimplified {
		return a.Body
	}
	return push.QueueNotification(&push.Message{
		TopicOwner: sub.AppID, TopicName: sub.TopicName, SubscriptionName: sub.Name,
		ID: a.MsgID, Body: a.Body, Tags: a.Tags, PublishTime: a.Published,
	}, push.Format(sub.NotifyContentFormat))
}
