package delivery

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/topic"
)

// MNS-made queue subscriptions get the notification in their format; CMQ
// ones (and SIMPLIFIED) the body as published.
func TestQueueSubscriptionBodies(t *testing.T) {
	t.Parallel()
	r := newRig(t, 1, ok)
	mns := func(name, format string) topic.Subscription {
		return topic.Subscription{Name: name, Protocol: topic.ProtocolQueue, Endpoint: name, Dialect: topic.DialectMNS, NotifyContentFormat: format}
	}
	tp := r.topic("t", topic.FilterTag,
		topic.Subscription{Name: "cmq", Protocol: topic.ProtocolQueue, Endpoint: "cmq", NotifyContentFormat: topic.FormatSimplified},
		mns("xml", topic.FormatXML), mns("json", topic.FormatJSON), mns("simple", topic.FormatSimplified),
	)
	ids, err := r.pub.Publish(context.Background(), tp, []topic.Message{{Body: []byte("hi"), Tags: []string{"x"}}})
	require.NoError(t, err)
	got := map[string]string{}
	for range 4 {
		v := recv(t, r.queues.got)
		queue, rest, _ := strings.Cut(v, ":")
		got[queue] = strings.TrimSuffix(rest, ":"+ids[0])
	}
	require.Equal(t, "hi", got["cmq"])
	require.Equal(t, "hi", got["simple"])
	require.Regexp(t, `^<\?xml version="1.0" encoding="utf-8"\?>\n<Notification xmlns="http://mns.aliyuncs.com/doc/v1/"><TopicOwner>1</TopicOwner>`+
		`<TopicName>t</TopicName><Subscriber>1</Subscriber><SubscriptionName>xml</SubscriptionName><MessageId>`+ids[0]+`</MessageId>`+
		`<Message>hi</Message><MessageMD5>49F68A5C8493EC2C0BF489821C21FC3B</MessageMD5><MessageTag>x</MessageTag><PublishTime>[0-9]{13}</PublishTime></Notification>$`, got["xml"])
	require.Regexp(t, `^\{"TopicOwner":"1","TopicName":"t","Subscriber":"1","SubscriptionName":"json","MessageId":`+strconv.Quote(ids[0])+
		`,"Message":"hi","MessageMD5":"49F68A5C8493EC2C0BF489821C21FC3B","MessageTag":"x","PublishTime":"[0-9]{13}"\}$`, got["json"])
}
