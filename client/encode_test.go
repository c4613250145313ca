package client_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/client"
)

// TestRequestEncoding checks every action's parameter names, 1-based
// indexes and that unset optional parameters are left out.
func TestRequestEncoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		action string
		call   func(context.Context, *client.Client) error
		want   map[string]string
	}{
		{
			name: "CreateQueue minimal", action: "CreateQueue",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.CreateQueue(ctx, client.CreateQueueRequest{QueueName: "q1"})
				return err
			},
			want: map[string]string{"queueName": "q1"},
		},
		{
			name: "CreateQueue full with extra params", action: "CreateQueue",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.CreateQueue(ctx, client.CreateQueueRequest{
					QueueName: "q1", MaxMsgHeapNum: new(1000000), PollingWaitSeconds: new(0),
					VisibilityTimeout: new(30), MaxMsgSize: new(65536), MsgRetentionSeconds: new(345600),
					RewindSeconds: new(0), DeadLetterQueueName: "dlq", MaxReceiveCount: new(5),
					Common: client.Common{ClientRequestID: "42", Extra: []client.Param{{Key: "futureParam", Value: "x"}}},
				})
				return err
			},
			want: map[string]string{
				"queueName": "q1", "maxMsgHeapNum": "1000000", "pollingWaitSeconds": "0",
				"visibilityTimeout": "30", "maxMsgSize": "65536", "msgRetentionSeconds": "345600",
				"rewindSeconds": "0", "clientRequestId": "42", "deadLetterQueueName": "dlq", "maxReceiveCount": "5",
				"futureParam": "x",
			},
		},
		{
			name: "DeleteQueue", action: "DeleteQueue",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.DeleteQueue(ctx, client.DeleteQueueRequest{QueueName: "q1"})
				return err
			},
			want: map[string]string{"queueName": "q1"},
		},
		{
			name: "ListQueue minimal", action: "ListQueue",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.ListQueue(ctx, client.ListQueueRequest{})
				return err
			},
			want: map[string]string{},
		},
		{
			name: "ListQueue full", action: "ListQueue",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.ListQueue(ctx, client.ListQueueRequest{SearchWord: "ord", Offset: new(0), Limit: new(50)})
				return err
			},
			want: map[string]string{"searchWord": "ord", "offset": "0", "limit": "50"},
		},
		{
			name: "GetQueueAttributes", action: "GetQueueAttributes",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.GetQueueAttributes(ctx, client.GetQueueAttributesRequest{QueueName: "q1"})
				return err
			},
			want: map[string]string{"queueName": "q1"},
		},
		{
			name: "SetQueueAttributes one attribute", action: "SetQueueAttributes",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.SetQueueAttributes(ctx, client.SetQueueAttributesRequest{QueueName: "q1", VisibilityTimeout: new(60)})
				return err
			},
			want: map[string]string{"queueName": "q1", "visibilityTimeout": "60"},
		},
		{
			name: "SetQueueAttributes all", action: "SetQueueAttributes",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.SetQueueAttributes(ctx, client.SetQueueAttributesRequest{
					QueueName: "q1", MaxMsgHeapNum: new(2000000), PollingWaitSeconds: new(5),
					VisibilityTimeout: new(60), MaxMsgSize: new(1024), MsgRetentionSeconds: new(60), RewindSeconds: new(3600),
				})
				return err
			},
			want: map[string]string{
				"queueName": "q1", "maxMsgHeapNum": "2000000", "pollingWaitSeconds": "5",
				"visibilityTimeout": "60", "maxMsgSize": "1024", "msgRetentionSeconds": "60", "rewindSeconds": "3600",
			},
		},
		{
			name: "RewindQueue", action: "RewindQueue",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.RewindQueue(ctx, client.RewindQueueRequest{QueueName: "q1", StartConsumeTime: 1699990000})
				return err
			},
			want: map[string]string{"queueName": "q1", "startConsumeTime": "1699990000"},
		},
		{
			name: "SendMessage without delay", action: "SendMessage",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.SendMessage(ctx, client.SendMessageRequest{QueueName: "q1", MsgBody: "a&b=c d"})
				return err
			},
			want: map[string]string{"queueName": "q1", "msgBody": "a&b=c d"},
		},
		{
			name: "SendMessage with delay", action: "SendMessage",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.SendMessage(ctx, client.SendMessageRequest{QueueName: "q1", MsgBody: "x", DelaySeconds: new(10)})
				return err
			},
			want: map[string]string{"queueName": "q1", "msgBody": "x", "delaySeconds": "10"},
		},
		{
			name: "BatchSendMessage", action: "BatchSendMessage",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.BatchSendMessage(ctx, client.BatchSendMessageRequest{QueueName: "q1", MsgBodies: []string{"a", "b", "c"}, DelaySeconds: new(0)})
				return err
			},
			want: map[string]string{"queueName": "q1", "msgBody.1": "a", "msgBody.2": "b", "msgBody.3": "c", "delaySeconds": "0"},
		},
		{
			name: "ReceiveMessage queue default poll", action: "ReceiveMessage",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.ReceiveMessage(ctx, client.ReceiveMessageRequest{QueueName: "q1"})
				return err
			},
			want: map[string]string{"queueName": "q1"},
		},
		{
			name: "ReceiveMessage with poll", action: "ReceiveMessage",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.ReceiveMessage(ctx, client.ReceiveMessageRequest{QueueName: "q1", PollingWaitSeconds: new(0)})
				return err
			},
			want: map[string]string{"queueName": "q1", "pollingWaitSeconds": "0"},
		},
		{
			name: "BatchReceiveMessage", action: "BatchReceiveMessage",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.BatchReceiveMessage(ctx, client.BatchReceiveMessageRequest{QueueName: "q1", NumOfMsg: 16, PollingWaitSeconds: new(3)})
				return err
			},
			want: map[string]string{"queueName": "q1", "numOfMsg": "16", "pollingWaitSeconds": "3"},
		},
		{
			name: "DeleteMessage", action: "DeleteMessage",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.DeleteMessage(ctx, client.DeleteMessageRequest{QueueName: "q1", ReceiptHandle: "h-1"})
				return err
			},
			want: map[string]string{"queueName": "q1", "receiptHandle": "h-1"},
		},
		{
			name: "BatchDeleteMessage", action: "BatchDeleteMessage",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.BatchDeleteMessage(ctx, client.BatchDeleteMessageRequest{QueueName: "q1", ReceiptHandles: []string{"h1", "h2"}})
				return err
			},
			want: map[string]string{"queueName": "q1", "receiptHandle.1": "h1", "receiptHandle.2": "h2"},
		},
		{
			name: "CreateTopic minimal", action: "CreateTopic",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.CreateTopic(ctx, client.CreateTopicRequest{TopicName: "t1"})
				return err
			},
			want: map[string]string{"topicName": "t1"},
		},
		{
			name: "CreateTopic routing", action: "CreateTopic",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.CreateTopic(ctx, client.CreateTopicRequest{TopicName: "t1", MaxMsgSize: new(65536), FilterType: new(client.FilterTypeRoutingKey)})
				return err
			},
			want: map[string]string{"topicName": "t1", "maxMsgSize": "65536", "filterType": "2"},
		},
		{
			name: "SetTopicAttributes", action: "SetTopicAttributes",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.SetTopicAttributes(ctx, client.SetTopicAttributesRequest{TopicName: "t1", MaxMsgSize: new(2048)})
				return err
			},
			want: map[string]string{"topicName": "t1", "maxMsgSize": "2048"},
		},
		{
			name: "ListTopic", action: "ListTopic",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.ListTopic(ctx, client.ListTopicRequest{SearchWord: "t", Offset: new(20), Limit: new(20)})
				return err
			},
			want: map[string]string{"searchWord": "t", "offset": "20", "limit": "20"},
		},
		{
			name: "GetTopicAttributes", action: "GetTopicAttributes",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.GetTopicAttributes(ctx, client.GetTopicAttributesRequest{TopicName: "t1"})
				return err
			},
			want: map[string]string{"topicName": "t1"},
		},
		{
			name: "DeleteTopic", action: "DeleteTopic",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.DeleteTopic(ctx, client.DeleteTopicRequest{TopicName: "t1"})
				return err
			},
			want: map[string]string{"topicName": "t1"},
		},
		{
			name: "PublishMessage minimal", action: "PublishMessage",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.PublishMessage(ctx, client.PublishMessageRequest{TopicName: "t1", MsgBody: "hi"})
				return err
			},
			want: map[string]string{"topicName": "t1", "msgBody": "hi"},
		},
		{
			name: "PublishMessage tags and routing key", action: "PublishMessage",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.PublishMessage(ctx, client.PublishMessageRequest{TopicName: "t1", MsgBody: "hi", MsgTags: []string{"a", "b"}, RoutingKey: "order.created"})
				return err
			},
			want: map[string]string{"topicName": "t1", "msgBody": "hi", "msgTag.1": "a", "msgTag.2": "b", "routingKey": "order.created"},
		},
		{
			name: "BatchPublishMessage", action: "BatchPublishMessage",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.BatchPublishMessage(ctx, client.BatchPublishMessageRequest{TopicName: "t1", MsgBodies: []string{"x", "y"}, MsgTags: []string{"a"}, RoutingKey: "k"})
				return err
			},
			want: map[string]string{"topicName": "t1", "msgBody.1": "x", "msgBody.2": "y", "msgTag.1": "a", "routingKey": "k"},
		},
		{
			name: "Subscribe minimal", action: "Subscribe",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.Subscribe(ctx, client.SubscribeRequest{TopicName: "t1", SubscriptionName: "s1", Protocol: client.ProtocolHTTP, Endpoint: "http://h/p"})
				return err
			},
			want: map[string]string{"topicName": "t1", "subscriptionName": "s1", "protocol": "http", "endpoint": "http://h/p"},
		},
		{
			name: "Subscribe full", action: "Subscribe",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.Subscribe(ctx, client.SubscribeRequest{
					TopicName: "t1", SubscriptionName: "s1", Protocol: client.ProtocolQueue, Endpoint: "q1",
					NotifyStrategy: client.NotifyBackoffRetry, NotifyContentFormat: client.FormatSimplified,
					FilterTags: []string{"a", "b"}, BindingKeys: []string{"1.*.0", "#"},
					Dialect: "MNS", WebhookSecret: "generate",
				})
				return err
			},
			want: map[string]string{
				"topicName": "t1", "subscriptionName": "s1", "protocol": "queue", "endpoint": "q1",
				"notifyStrategy": "BACKOFF_RETRY", "notifyContentFormat": "SIMPLIFIED",
				"filterTag.1": "a", "filterTag.2": "b", "bindingKey.1": "1.*.0", "bindingKey.2": "#",
				"dialect": "MNS", "webhookSecret": "generate",
			},
		},
		{
			name: "Unsubscribe", action: "Unsubscribe",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.Unsubscribe(ctx, client.UnsubscribeRequest{TopicName: "t1", SubscriptionName: "s1"})
				return err
			},
			want: map[string]string{"topicName": "t1", "subscriptionName": "s1"},
		},
		{
			name: "ListSubscriptionByTopic minimal", action: "ListSubscriptionByTopic",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.ListSubscriptionByTopic(ctx, client.ListSubscriptionByTopicRequest{TopicName: "t1"})
				return err
			},
			want: map[string]string{"topicName": "t1"},
		},
		{
			name: "ListSubscriptionByTopic full", action: "ListSubscriptionByTopic",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.ListSubscriptionByTopic(ctx, client.ListSubscriptionByTopicRequest{TopicName: "t1", SearchWord: "s", Offset: new(0), Limit: new(100)})
				return err
			},
			want: map[string]string{"topicName": "t1", "searchWord": "s", "offset": "0", "limit": "100"},
		},
		{
			name: "GetSubscriptionAttributes", action: "GetSubscriptionAttributes",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.GetSubscriptionAttributes(ctx, client.GetSubscriptionAttributesRequest{TopicName: "t1", SubscriptionName: "s1"})
				return err
			},
			want: map[string]string{"topicName": "t1", "subscriptionName": "s1"},
		},
		{
			name: "SetSubscriptionAttributes minimal", action: "SetSubscriptionAttributes",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.SetSubscriptionAttributes(ctx, client.SetSubscriptionAttributesRequest{TopicName: "t1", SubscriptionName: "s1"})
				return err
			},
			want: map[string]string{"topicName": "t1", "subscriptionName": "s1"},
		},
		{
			name: "SetSubscriptionAttributes full", action: "SetSubscriptionAttributes",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.SetSubscriptionAttributes(ctx, client.SetSubscriptionAttributesRequest{
					TopicName: "t1", SubscriptionName: "s1", NotifyStrategy: client.NotifyExponentialDecayRetry,
					NotifyContentFormat: client.FormatJSON, FilterTags: []string{"x"}, BindingKeys: []string{"a.#"},
					Dialect: "MNS", WebhookSecret: "generate", RetireWebhookSecrets: true,
				})
				return err
			},
			want: map[string]string{
				"topicName": "t1", "subscriptionName": "s1", "notifyStrategy": "EXPONENTIAL_DECAY_RETRY",
				"notifyContentFormat": "JSON", "filterTag.1": "x", "bindingKey.1": "a.#",
				"dialect": "MNS", "webhookSecret": "generate", "retireWebhookSecrets": "1",
			},
		},
		{
			name: "ClearSubscriptionFilterTags", action: "ClearSubscriptionFilterTags",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.ClearSubscriptionFilterTags(ctx, client.ClearSubscriptionFilterTagsRequest{TopicName: "t1", SubscriptionName: "s1"})
				return err
			},
			want: map[string]string{"topicName": "t1", "subscriptionName": "s1"},
		},
		{
			name: "Do", action: "QueryQueueRoute",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.Do(ctx, "QueryQueueRoute", []client.Param{{Key: "queueName", Value: "q1"}})
				return err
			},
			want: map[string]string{"queueName": "q1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, st := newStubClient(t, http.StatusOK, okEnvelope)
			require.NoError(t, tt.call(t.Context(), c))
			got := st.last()
			require.Equal(t, http.MethodPost, got.method)
			require.Equal(t, "/v2/index.php", got.url.Path)
			require.Empty(t, got.url.RawQuery)
			require.Equal(t, "application/x-www-form-urlencoded", got.header.Get("Content-Type"))
			require.Equal(t, tt.want, got.actionParams())
			require.Equal(t, tt.action, got.param("Action"))
			require.Equal(t, testSecretID, got.param("SecretId"))
			require.Equal(t, "1700000000", got.param("Timestamp"))
			require.Equal(t, "12345", got.param("Nonce"))
			require.Equal(t, client.HmacSHA1, got.param("SignatureMethod"))
			require.Equal(t, client.DefaultRequestClient, got.param("RequestClient"))
			keys := map[string]bool{}
			for _, p := range got.params {
				require.False(t, keys[p.Key], "param %s sent twice", p.Key)
				keys[p.Key] = true
			}
			require.Equal(t, "Signature", got.params[len(got.params)-1].Key)
		})
	}
}

// TestPostBodyMatchesSRC1 reproduces the exact body of wire.md §1.10.
func TestPostBodyMatchesSRC1(t *testing.T) {
	t.Parallel()
	c, st := newStubClient(t, http.StatusOK, `{"code":0,"message":"","requestId":"r1","msgId":"m1"}`,
		client.WithRequestClient("SDK_Python_1.3"))
	res, err := c.SendMessage(t.Context(), client.SendMessageRequest{QueueName: "q1", MsgBody: "hello world&x=1", DelaySeconds: new(0)})
	require.NoError(t, err)
	require.Equal(t, "m1", res.MsgID)
	require.Equal(t,
		"Action=SendMessage&Nonce=12345&RequestClient=SDK_Python_1.3&SecretId=AKIDtest&SignatureMethod=HmacSHA1&Timestamp=1700000000&delaySeconds=0&msgBody=hello+world%26x%3D1&queueName=q1&Signature=sPg7RaV%2F%2FlVJpQ%2FWukXabNokRco%3D",
		st.last().body)
}

func TestHmacSHA256MatchesSIG2(t *testing.T) {
	t.Parallel()
	c, st := newStubClient(t, http.StatusOK, okEnvelope,
		client.WithRequestClient("SDK_Python_1.3"), client.WithSignatureMethod(client.HmacSHA256))
	_, err := c.SendMessage(t.Context(), client.SendMessageRequest{QueueName: "q1", MsgBody: "hello world&x=1", DelaySeconds: new(0)})
	require.NoError(t, err)
	got := st.last()
	require.Equal(t, client.HmacSHA256, got.param("SignatureMethod"))
	require.Equal(t, "SAerGgkNO1/lBt5Aw+26lNyUcVLu6h5umYgXkgsFrPY=", got.param("Signature"))
}

func TestGetPutsEverythingInTheQuery(t *testing.T) {
	t.Parallel()
	c, st := newStubClient(t, http.StatusOK, okEnvelope, client.WithMethod(http.MethodGet), client.WithSignatureMethod(client.HmacSHA256))
	_, err := c.BatchSendMessage(t.Context(), client.BatchSendMessageRequest{QueueName: "q1", MsgBodies: []string{"a b", "c&d"}})
	require.NoError(t, err)
	got := st.last()
	require.Equal(t, http.MethodGet, got.method)
	require.Empty(t, got.body)
	require.Empty(t, got.header.Get("Content-Type"))
	require.Equal(t, "/v2/index.php", got.url.Path)
	require.Equal(t, map[string]string{"queueName": "q1", "msgBody.1": "a b", "msgBody.2": "c&d"}, got.actionParams())
	require.Equal(t, "BatchSendMessage", got.param("Action"))
	require.Equal(t, client.HmacSHA256, got.param("SignatureMethod"))
	require.NotEmpty(t, got.param("Signature"))
	require.Contains(t, got.url.RawQuery, "msgBody.1=a+b&msgBody.2=c%26d&")
}

func TestEndpointPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		endpoint string
		wantPath string
	}{
		{"http://127.0.0.1:8080", "/v2/index.php"},
		{"http://127.0.0.1:8080/", "/"},
		{"https://cmq.example.com/custom/api", "/custom/api"},
	}
	for _, tt := range tests {
		t.Run(tt.endpoint, func(t *testing.T) {
			t.Parallel()
			st := &stub{t: t, status: http.StatusOK, body: okEnvelope}
			c, err := client.New(tt.endpoint, testSecretID, testSecretKey, client.WithHTTPClient(&http.Client{Transport: st}))
			require.NoError(t, err)
			_, err = c.DeleteQueue(t.Context(), client.DeleteQueueRequest{QueueName: "q"})
			require.NoError(t, err) // the stub verified the signature over this path
			require.Equal(t, tt.wantPath, st.last().url.Path)
		})
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		endpoint string
		id, key  string
		opts     []client.Option
	}{
		{name: "no scheme", endpoint: "127.0.0.1:8080", id: "AKID", key: "k"},
		{name: "ftp", endpoint: "ftp://h", id: "AKID", key: "k"},
		{name: "no host", endpoint: "http:///v2/index.php", id: "AKID", key: "k"},
		{name: "query", endpoint: "http://h/?a=b", id: "AKID", key: "k"},
		{name: "no secret id", endpoint: "http://h", key: "k"},
		{name: "no secret key", endpoint: "http://h", id: "AKID"},
		{name: "PUT", endpoint: "http://h", id: "AKID", key: "k", opts: []client.Option{client.WithMethod(http.MethodPut)}},
		{name: "signature method", endpoint: "http://h", id: "AKID", key: "k", opts: []client.Option{client.WithSignatureMethod("HmacMD5")}},
		{name: "negative timeout", endpoint: "http://h", id: "AKID", key: "k", opts: []client.Option{client.WithTimeout(-time.Second)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := client.New(tt.endpoint, tt.id, tt.key, tt.opts...)
			require.Error(t, err)
			require.Nil(t, c)
		})
	}
}

func TestRandomNonceAndRealClock(t *testing.T) {
	t.Parallel()
	st := &stub{t: t, status: http.StatusOK, body: okEnvelope}
	c, err := client.New("http://"+testHost, testSecretID, testSecretKey, client.WithHTTPClient(&http.Client{Transport: st}))
	require.NoError(t, err)
	before := time.Now().Unix()
	for range 2 {
		_, err = c.DeleteQueue(t.Context(), client.DeleteQueueRequest{QueueName: "q"})
		require.NoError(t, err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	require.Len(t, st.reqs, 2)
	require.NotEqual(t, st.reqs[0].param("Nonce"), st.reqs[1].param("Nonce"))
	require.NotEqual(t, "0", st.reqs[0].param("Nonce"))
	ts, err := strconv.ParseInt(st.reqs[0].param("Timestamp"), 10, 64)
	require.NoError(t, err)
	require.GreaterOrEqual(t, ts, before)
}
