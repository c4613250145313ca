package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/client"
)

// TestResponseDecoding decodes a response for every action from fixtures
// written from wire.md §1.5 and §1.6.
func TestResponseDecoding(t *testing.T) {
	t.Parallel()
	meta := client.Meta{RequestID: "req-1"}
	msg := client.Message{
		MsgBody: "hello", MsgID: "m1", ReceiptHandle: "rh-1", EnqueueTime: 1700000000,
		NextVisibleTime: 1700000030, FirstDequeueTime: 1700000001, DequeueCount: 2,
	}
	const msgJSON = `"msgBody":"hello","msgId":"m1","receiptHandle":"rh-1","enqueueTime":1700000000,"nextVisibleTime":1700000030,"firstDequeueTime":1700000001,"dequeueCount":2`
	tests := []decodeCase{
		{
			name:    "CreateQueue",
			fixture: `{"code":0,"message":"","requestId":"req-1","queueId":"queue-abc"}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.CreateQueue(ctx, client.CreateQueueRequest{QueueName: "q"})
			},
			want: &client.CreateQueueResponse{Meta: meta, QueueID: "queue-abc"},
		},
		{
			name:    "DeleteQueue",
			fixture: `{"code":0,"message":"","requestId":"req-1"}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.DeleteQueue(ctx, client.DeleteQueueRequest{QueueName: "q"})
			},
			want: &meta,
		},
		{
			name:    "ListQueue",
			fixture: `{"code":0,"message":"","requestId":"req-1","totalCount":3,"queueList":[{"queueId":"id1","queueName":"a"},{"queueId":"id2","queueName":"b"}]}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.ListQueue(ctx, client.ListQueueRequest{})
			},
			want: &client.ListQueueResponse{Meta: meta, TotalCount: 3, QueueList: []client.QueueListItem{{QueueID: "id1", QueueName: "a"}, {QueueID: "id2", QueueName: "b"}}},
		},
		{
			name: "GetQueueAttributes",
			fixture: `{"code":0,"message":"","requestId":"req-1","maxMsgHeapNum":100000000,"pollingWaitSeconds":5,"visibilityTimeout":30,` +
				`"maxMsgSize":65536,"msgRetentionSeconds":345600,"createTime":1690000000,"lastModifyTime":1695000000,"activeMsgNum":7,` +
				`"inactiveMsgNum":2,"rewindSeconds":3600,"rewindMsgNum":11,"rewindmsgNum":11,"minMsgTime":1699000000,"delayMsgNum":4}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.GetQueueAttributes(ctx, client.GetQueueAttributesRequest{QueueName: "q"})
			},
			want: &client.GetQueueAttributesResponse{
				Meta: meta, MaxMsgHeapNum: 100000000, PollingWaitSeconds: 5, VisibilityTimeout: 30, MaxMsgSize: 65536,
				MsgRetentionSeconds: 345600, CreateTime: 1690000000, LastModifyTime: 1695000000, ActiveMsgNum: 7,
				InactiveMsgNum: 2, DelayMsgNum: 4, RewindSeconds: 3600, RewindMsgNum: 11, MinMsgTime: 1699000000,
			},
		},
		{
			name:    "GetQueueAttributes Python spelling of rewindmsgNum",
			fixture: `{"code":0,"message":"","requestId":"req-1","rewindmsgNum":5}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.GetQueueAttributes(ctx, client.GetQueueAttributesRequest{QueueName: "q"})
			},
			want: &client.GetQueueAttributesResponse{Meta: meta, RewindMsgNum: 5},
		},
		{
			name:    "SetQueueAttributes",
			fixture: `{"code":0,"message":"","requestId":"req-1"}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.SetQueueAttributes(ctx, client.SetQueueAttributesRequest{QueueName: "q"})
			},
			want: &meta,
		},
		{
			name:    "RewindQueue",
			fixture: `{"code":0,"message":"","requestId":"req-1"}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.RewindQueue(ctx, client.RewindQueueRequest{QueueName: "q", StartConsumeTime: 1})
			},
			want: &meta,
		},
		{
			name:    "SendMessage",
			fixture: `{"code":0,"message":"","requestId":"req-1","msgId":"m1"}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.SendMessage(ctx, client.SendMessageRequest{QueueName: "q", MsgBody: "x"})
			},
			want: &client.SendMessageResponse{Meta: meta, MsgID: "m1"},
		},
		{
			name:    "BatchSendMessage",
			fixture: `{"code":0,"message":"","requestId":"req-1","msgList":[{"msgId":"m1"},{"msgId":"m2"}]}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.BatchSendMessage(ctx, client.BatchSendMessageRequest{QueueName: "q", MsgBodies: []string{"a", "b"}})
			},
			want: &client.BatchSendMessageResponse{Meta: meta, MsgList: []client.MsgIDItem{{MsgID: "m1"}, {MsgID: "m2"}}},
		},
		{
			name:    "ReceiveMessage",
			fixture: `{"code":0,"message":"","requestId":"req-1",` + msgJSON + `}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.ReceiveMessage(ctx, client.ReceiveMessageRequest{QueueName: "q", PollingWaitSeconds: new(0)})
			},
			want: &client.ReceiveMessageResponse{Meta: meta, Message: msg},
		},
		{
			name:    "BatchReceiveMessage",
			fixture: `{"code":0,"message":"","requestId":"req-1","msgInfoList":[{` + msgJSON + `},{` + msgJSON + `}]}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.BatchReceiveMessage(ctx, client.BatchReceiveMessageRequest{QueueName: "q", NumOfMsg: 2, PollingWaitSeconds: new(0)})
			},
			want: &client.BatchReceiveMessageResponse{Meta: meta, MsgInfoList: []client.Message{msg, msg}},
		},
		{
			name:    "DeleteMessage",
			fixture: `{"code":0,"message":"","requestId":"req-1"}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.DeleteMessage(ctx, client.DeleteMessageRequest{QueueName: "q", ReceiptHandle: "h"})
			},
			want: &meta,
		},
		{
			name:    "BatchDeleteMessage",
			fixture: `{"code":0,"message":"","requestId":"req-1"}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.BatchDeleteMessage(ctx, client.BatchDeleteMessageRequest{QueueName: "q", ReceiptHandles: []string{"h"}})
			},
			want: &client.BatchDeleteMessageResponse{Meta: meta},
		},
		{
			name:    "CreateTopic",
			fixture: `{"code":0,"message":"","requestId":"req-1","topicId":"topic-1"}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.CreateTopic(ctx, client.CreateTopicRequest{TopicName: "t"})
			},
			want: &client.CreateTopicResponse{Meta: meta, TopicID: "topic-1"},
		},
		{
			name:    "SetTopicAttributes",
			fixture: `{"code":0,"message":"","requestId":"req-1"}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.SetTopicAttributes(ctx, client.SetTopicAttributesRequest{TopicName: "t"})
			},
			want: &meta,
		},
		{
			name:    "ListTopic",
			fixture: `{"code":0,"message":"","requestId":"req-1","totalCount":1,"topicList":[{"topicId":"topic-1","topicName":"t"}]}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.ListTopic(ctx, client.ListTopicRequest{})
			},
			want: &client.ListTopicResponse{Meta: meta, TotalCount: 1, TopicList: []client.TopicListItem{{TopicID: "topic-1", TopicName: "t"}}},
		},
		{
			name: "GetTopicAttributes",
			fixture: `{"code":0,"message":"","requestId":"req-1","msgCount":12,"maxMsgSize":65536,"msgRetentionSeconds":86400,` +
				`"createTime":1690000000,"lastModifyTime":1695000000,"filterType":2,"createUin":100015036,"qps":5000,"topicId":"topic-1"}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.GetTopicAttributes(ctx, client.GetTopicAttributesRequest{TopicName: "t"})
			},
			want: &client.GetTopicAttributesResponse{
				Meta: meta, MsgCount: 12, MaxMsgSize: 65536, MsgRetentionSeconds: 86400, CreateTime: 1690000000,
				LastModifyTime: 1695000000, FilterType: client.FilterTypeRoutingKey, CreateUin: 100015036, QPS: 5000, TopicID: "topic-1",
			},
		},
		{
			name:    "DeleteTopic",
			fixture: `{"code":0,"message":"","requestId":"req-1"}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.DeleteTopic(ctx, client.DeleteTopicRequest{TopicName: "t"})
			},
			want: &meta,
		},
		{
			name:    "PublishMessage",
			fixture: `{"code":0,"message":"","requestId":"req-1","msgId":"m9"}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.PublishMessage(ctx, client.PublishMessageRequest{TopicName: "t", MsgBody: "x"})
			},
			want: &client.PublishMessageResponse{Meta: meta, MsgID: "m9"},
		},
		{
			name:    "BatchPublishMessage",
			fixture: `{"code":0,"message":"","requestId":"req-1","msgList":[{"msgId":"m1"},{"msgId":"m2"}]}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.BatchPublishMessage(ctx, client.BatchPublishMessageRequest{TopicName: "t", MsgBodies: []string{"a", "b"}})
			},
			want: &client.BatchPublishMessageResponse{Meta: meta, MsgList: []client.MsgIDItem{{MsgID: "m1"}, {MsgID: "m2"}}},
		},
		{
			name:    "Subscribe",
			fixture: `{"code":0,"message":"","requestId":"req-1","subscriptionId":"sub-1"}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.Subscribe(ctx, client.SubscribeRequest{TopicName: "t", SubscriptionName: "s", Protocol: "queue", Endpoint: "q"})
			},
			want: &client.SubscribeResponse{Meta: meta, SubscriptionID: "sub-1"},
		},
		{
			name:    "Unsubscribe",
			fixture: `{"code":0,"message":"","requestId":"req-1"}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.Unsubscribe(ctx, client.UnsubscribeRequest{TopicName: "t", SubscriptionName: "s"})
			},
			want: &meta,
		},
		{
			name: "ListSubscriptionByTopic",
			fixture: `{"code":0,"message":"","requestId":"req-1","totalCount":2,"subscriptionList":[` +
				`{"subscriptionId":"sub-1","subscriptionName":"s1","protocol":"http","endpoint":"http://h/p"},` +
				`{"subscriptionId":"sub-2","subscriptionName":"s2","protocol":"queue","endpoint":"q"}]}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.ListSubscriptionByTopic(ctx, client.ListSubscriptionByTopicRequest{TopicName: "t"})
			},
			want: &client.ListSubscriptionByTopicResponse{Meta: meta, TotalCount: 2, SubscriptionList: []client.SubscriptionListItem{
				{SubscriptionID: "sub-1", SubscriptionName: "s1", Protocol: "http", Endpoint: "http://h/p"},
				{SubscriptionID: "sub-2", SubscriptionName: "s2", Protocol: "queue", Endpoint: "q"},
			}},
		},
		{
			name: "GetSubscriptionAttributes",
			fixture: `{"code":0,"message":"","requestId":"req-1","topicOwner":"1000000","msgCount":3,"protocol":"http","protocal":"http",` +
				`"endpoint":"http://h/p","notifyStrategy":"BACKOFF_RETRY","notifyContentFormat":"JSON","createTime":1690000000,` +
				`"lastModifyTime":1695000000,"bindingKey":["a.*","#"],"filterTag":["x","y"],"filterTags":["x","y"]}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.GetSubscriptionAttributes(ctx, client.GetSubscriptionAttributesRequest{TopicName: "t", SubscriptionName: "s"})
			},
			want: &client.GetSubscriptionAttributesResponse{
				Meta: meta, TopicOwner: "1000000", MsgCount: 3, Protocol: "http", Endpoint: "http://h/p",
				NotifyStrategy: "BACKOFF_RETRY", NotifyContentFormat: "JSON", CreateTime: 1690000000,
				LastModifyTime: 1695000000, BindingKey: []string{"a.*", "#"}, FilterTag: []string{"x", "y"},
			},
		},
		{
			name:    "GetSubscriptionAttributes Python spellings",
			fixture: `{"code":0,"message":"","requestId":"req-1","protocal":"queue","filterTags":["z"],"bindingKey":[]}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.GetSubscriptionAttributes(ctx, client.GetSubscriptionAttributesRequest{TopicName: "t", SubscriptionName: "s"})
			},
			want: &client.GetSubscriptionAttributesResponse{Meta: meta, Protocol: "queue", FilterTag: []string{"z"}, BindingKey: []string{}},
		},
		{
			name: "GetSubscriptionAttributes herald's extensions",
			fixture: `{"code":0,"message":"","requestId":"req-1","subscriptionId":"sub-9","subscriptionName":"s","topicName":"t",` +
				`"dialect":"MNS","webhookSecretCount":2,"givenUpMsgCount":7,"signatureRejectedCount":3}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.GetSubscriptionAttributes(ctx, client.GetSubscriptionAttributesRequest{TopicName: "t", SubscriptionName: "s"})
			},
			want: &client.GetSubscriptionAttributesResponse{
				Meta: meta, SubscriptionID: "sub-9", SubscriptionName: "s", TopicName: "t",
				Dialect: "MNS", WebhookSecretCount: 2, GivenUpMsgCount: 7, SignatureRejectedCount: 3,
			},
		},
		{
			name:    "SetSubscriptionAttributes",
			fixture: `{"code":0,"message":"","requestId":"req-1"}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.SetSubscriptionAttributes(ctx, client.SetSubscriptionAttributesRequest{TopicName: "t", SubscriptionName: "s"})
			},
			want: &client.SetSubscriptionAttributesResponse{Meta: meta},
		},
		{
			name:    "SetSubscriptionAttributes with a new webhook secret",
			fixture: `{"code":0,"message":"","requestId":"req-1","webhookSecret":"whsec_c2VjcmV0"}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.SetSubscriptionAttributes(ctx, client.SetSubscriptionAttributesRequest{TopicName: "t", SubscriptionName: "s", WebhookSecret: "generate"})
			},
			want: &client.SetSubscriptionAttributesResponse{Meta: meta, WebhookSecret: "whsec_c2VjcmV0"},
		},
		{
			name:    "Subscribe with a webhook secret",
			fixture: `{"code":0,"message":"","requestId":"req-1","subscriptionId":"sub-1","webhookSecret":"whsec_c2VjcmV0"}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.Subscribe(ctx, client.SubscribeRequest{TopicName: "t", SubscriptionName: "s", Protocol: "http", Endpoint: "http://h/", WebhookSecret: "generate"})
			},
			want: &client.SubscribeResponse{Meta: meta, SubscriptionID: "sub-1", WebhookSecret: "whsec_c2VjcmV0"},
		},
		{
			name:    "ClearSubscriptionFilterTags",
			fixture: `{"code":0,"message":"","requestId":"req-1"}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.ClearSubscriptionFilterTags(ctx, client.ClearSubscriptionFilterTagsRequest{TopicName: "t", SubscriptionName: "s"})
			},
			want: &meta,
		},
		{
			name:    "clientRequestId echoed as a number",
			fixture: `{"code":0,"message":"","requestId":"req-1","clientRequestId":18446744073709551615,"msgId":"m1"}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.SendMessage(ctx, client.SendMessageRequest{QueueName: "q", MsgBody: "x", Common: client.Common{ClientRequestID: "18446744073709551615"}})
			},
			want: &client.SendMessageResponse{Meta: client.Meta{RequestID: "req-1", ClientRequestID: "18446744073709551615"}, MsgID: "m1"},
		},
		{
			name:    "clientRequestId echoed as a string and requestId as a number",
			fixture: `{"code":0,"message":"","requestId":12,"clientRequestId":"abc"}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.DeleteQueue(ctx, client.DeleteQueueRequest{QueueName: "q", Common: client.Common{ClientRequestID: "abc"}})
			},
			want: &client.Meta{RequestID: "12", ClientRequestID: "abc"},
		},
	}
	checkDecoding(t, tests)
}

func TestDoReturnsTheWholeResponse(t *testing.T) {
	t.Parallel()
	const body = `{"code":0,"message":"","requestId":"req-1","addr":["10.0.0.1:5000"]}`
	c, _ := newStubClient(t, http.StatusOK, body)
	raw, err := c.Do(t.Context(), "QueryQueueRoute", []client.Param{{Key: "queueName", Value: "q"}})
	require.NoError(t, err)
	var out struct {
		Addr []string `json:"addr"`
	}
	require.NoError(t, json.Unmarshal(raw, &out))
	require.Equal(t, []string{"10.0.0.1:5000"}, out.Addr)
}

// decodeCase is an action called against a stub answering fixture, and the
// response it must decode to.
type decodeCase struct {
	name    string
	fixture string
	call    func(context.Context, *client.Client) (any, error)
	want    any
}

func checkDecoding(t *testing.T, tests []decodeCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := newStubClient(t, http.StatusOK, tt.fixture)
			got, err := tt.call(t.Context(), c)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}
