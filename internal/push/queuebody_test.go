package push_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/push"
)

func TestQueueNotification(t *testing.T) {
	t.Parallel()
	m := &push.Message{
		TopicOwner: 1000000, TopicName: "t", SubscriptionName: "s", ID: "42",
		Body: []byte("a<b"), Tags: []string{"tag"}, PublishTime: time.UnixMilli(1449556920975),
	}
	require.Equal(t, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"+
		`<Notification xmlns="http://mns.aliyuncs.com/doc/v1/"><TopicOwner>1000000</TopicOwner><TopicName>t</TopicName>`+
		`<Subscriber>1000000</Subscriber><SubscriptionName>s</SubscriptionName><MessageId>42</MessageId>`+
		`<Message>a&lt;b</Message><MessageMD5>1A382AF93ED4B8A29EBD8E859A0168D7</MessageMD5><MessageTag>tag</MessageTag>`+
		`<PublishTime>1449556920975</PublishTime></Notification>`,
		string(push.QueueNotification(m, "")))
	require.Equal(t, `{"TopicOwner":"1000000","TopicName":"t","Subscriber":"1000000","SubscriptionName":"s",`+
		`"MessageId":"42","Message":"a<b","MessageMD5":"1A382AF93ED4B8A29EBD8E859A0168D7","MessageTag":"tag","PublishTime":"1449556920975"}`,
		string(push.QueueNotification(m, push.FormatJSON)))
	require.Equal(t, "a<b", string(push.QueueNotification(m, push.FormatSimplified)))
}
