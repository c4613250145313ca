package mns_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/api/mns"
	"github.com/herald-mq/herald/internal/topic"
)

func TestTopicLifecycle(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.client()
	res := c.do("PUT", "/topics/news", `<Topic><MaximumMessageSize>2048</MaximumMessageSize><LoggingEnabled>False</LoggingEnabled></Topic>`)
	require.Equal(t, http.StatusCreated, res.status, res.body)
	require.Equal(t, "http://"+testHost+"/topics/news", res.header.Get("Location"))
	c.ok(http.StatusNoContent, "PUT", "/topics/news", `<Topic><MaximumMessageSize>2048</MaximumMessageSize></Topic>`)
	c.fails(409, "TopicAlreadyExist", "PUT", "/topics/news", `<Topic/>`)
	c.fails(400, "InvalidArgument", "PUT", "/topics/t2", `<Topic><MaximumMessageSize>65537</MaximumMessageSize></Topic>`)
	c.fails(400, "TopicNameInvalid", "PUT", "/topics/-x", ``)
	c.fails(400, "TopicNameLengthError", "PUT", "/topics/"+strings.Repeat("t", 257), ``)

	ts := strconv.FormatInt(testNow.Unix(), 10)
	require.Equal(t, xmlDecl+`<Topic `+nsAttr+`><TopicName>news</TopicName><CreateTime>`+ts+`</CreateTime><LastModifyTime>`+ts+
		`</LastModifyTime><MaximumMessageSize>2048</MaximumMessageSize><MessageRetentionPeriod>86400</MessageRetentionPeriod>`+
		`<MessageCount>0</MessageCount><LoggingEnabled>False</LoggingEnabled></Topic>`, c.ok(200, "GET", "/topics/news", ""))
	c.ok(http.StatusNoContent, "PUT", "/topics/news?metaoverride=true", `<Topic><MaximumMessageSize>4096</MaximumMessageSize></Topic>`)
	require.Equal(t, "4096", field(t, c.ok(200, "GET", "/topics/news", ""), "MaximumMessageSize"))
	c.fails(404, "TopicNotExist", "PUT", "/topics/nope?metaoverride=true", `<Topic/>`)
	c.fails(404, "TopicNotExist", "GET", "/topics/nope", "")

	c.ok(http.StatusCreated, "PUT", "/topics/other", "")
	c.header = map[string]string{"x-mns-ret-number": "1"}
	require.Equal(t, xmlDecl+`<Topics `+nsAttr+`><Topic><TopicURL>http://`+testHost+`/topics/news</TopicURL></Topic><NextMarker>other</NextMarker></Topics>`,
		c.ok(200, "GET", "/topics", ""))
	c.header = map[string]string{"x-mns-with-meta": "true", "x-mns-prefix": "o"}
	body := c.ok(200, "GET", "/topics", "")
	require.Equal(t, "other", field(t, body, "TopicName"))
	require.Equal(t, "65536", field(t, body, "MaximumMessageSize"))
	c.header = nil

	// DeleteTopic takes the subscriptions with it, as MNS does.
	c.ok(http.StatusCreated, "PUT", "/topics/news/subscriptions/s", `<Subscription><Endpoint>https://example.com/n</Endpoint></Subscription>`)
	c.ok(http.StatusNoContent, "DELETE", "/topics/news", "")
	c.fails(404, "TopicNotExist", "GET", "/topics/news", "")
	require.Eventually(t, func() bool { return len(a.topics.Subscriptions(testAppID, "news")) == 0 }, 5*time.Second, 10*time.Millisecond)
	// A topic of the same name starts without them.
	c.ok(http.StatusCreated, "PUT", "/topics/news", "")
	_, err := a.topics.Subscription(context.Background(), testAppID, "news", "s")
	require.ErrorIs(t, err, topic.ErrSubscriptionNotFound)
	c.ok(http.StatusNoContent, "DELETE", "/topics/news", "")
	c.fails(404, "TopicNotExist", "DELETE", "/topics/news", "")
}

func TestSubscriptions(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.client()
	c.ok(http.StatusCreated, "PUT", "/topics/t", "")
	c.ok(http.StatusCreated, "PUT", "/queues/inbox", "")
	httpSub := `<Subscription><Endpoint>https://example.com/hook</Endpoint><FilterTag>vip</FilterTag><NotifyStrategy>EXPONENTIAL_DECAY_RETRY</NotifyStrategy><NotifyContentFormat>JSON</NotifyContentFormat></Subscription>`
	res := c.do("PUT", "/topics/t/subscriptions/web", httpSub)
	require.Equal(t, http.StatusCreated, res.status, res.body)
	require.Equal(t, "http://"+testHost+"/topics/t/subscriptions/web", res.header.Get("Location"))
	c.ok(http.StatusNoContent, "PUT", "/topics/t/subscriptions/web", httpSub)
	c.fails(409, "SubscriptionAlreadyExist", "PUT", "/topics/t/subscriptions/web", `<Subscription><Endpoint>https://example.com/other</Endpoint></Subscription>`)
	c.ok(http.StatusCreated, "PUT", "/topics/t/subscriptions/q", `<Subscription><Endpoint>acs:mns:cn-hangzhou:1000000:queues/inbox</Endpoint></Subscription>`)

	sub, err := a.topics.Subscription(context.Background(), testAppID, "t", "web")
	require.NoError(t, err)
	require.Equal(t, topic.DialectMNS, sub.Dialect)
	require.Equal(t, topic.ProtocolHTTP, sub.Protocol)
	require.Equal(t, []string{"vip"}, sub.FilterTags)
	q, err := a.topics.Subscription(context.Background(), testAppID, "t", "q")
	require.NoError(t, err)
	require.Equal(t, []string{topic.ProtocolQueue, "inbox", topic.FormatXML, topic.BackoffRetry, topic.DialectMNS},
		[]string{q.Protocol, q.Endpoint, q.NotifyContentFormat, q.NotifyStrategy, q.Dialect})

	ts := strconv.FormatInt(testNow.Unix(), 10)
	require.Equal(t, xmlDecl+`<Subscription `+nsAttr+`><SubscriptionName>q</SubscriptionName><Subscriber>1000000</Subscriber>`+
		`<TopicOwner>1000000</TopicOwner><TopicName>t</TopicName><Endpoint>acs:mns:cn-hangzhou:1000000:queues/inbox</Endpoint>`+
		`<NotifyStrategy>BACKOFF_RETRY</NotifyStrategy><NotifyContentFormat>XML</NotifyContentFormat><CreateTime>`+ts+
		`</CreateTime><LastModifyTime>`+ts+`</LastModifyTime></Subscription>`, c.ok(200, "GET", "/topics/t/subscriptions/q", ""))
	body := c.ok(200, "GET", "/topics/t/subscriptions/web", "")
	require.Equal(t, "vip", field(t, body, "FilterTag"))
	require.Equal(t, "JSON", field(t, body, "NotifyContentFormat"))

	c.ok(http.StatusNoContent, "PUT", "/topics/t/subscriptions/web?metaoverride=true", `<Subscription><NotifyStrategy>BACKOFF_RETRY</NotifyStrategy></Subscription>`)
	require.Equal(t, "BACKOFF_RETRY", field(t, c.ok(200, "GET", "/topics/t/subscriptions/web", ""), "NotifyStrategy"))
	c.fails(400, "InvalidArgument", "PUT", "/topics/t/subscriptions/web?metaoverride=true", `<Subscription><NotifyStrategy>NEVER</NotifyStrategy></Subscription>`)
	c.fails(404, "SubscriptionNotExist", "PUT", "/topics/t/subscriptions/nope?metaoverride=true", `<Subscription><NotifyStrategy>BACKOFF_RETRY</NotifyStrategy></Subscription>`)

	sURL := func(n string) string {
		return "<Subscription><SubscriptionURL>http://" + testHost + "/topics/t/subscriptions/" + n + "</SubscriptionURL></Subscription>"
	}
	require.Equal(t, xmlDecl+`<Subscriptions `+nsAttr+`>`+sURL("q")+sURL("web")+`</Subscriptions>`, c.ok(200, "GET", "/topics/t/subscriptions", ""))
	c.header = map[string]string{"x-mns-ret-number": "1"}
	require.Equal(t, xmlDecl+`<Subscriptions `+nsAttr+`>`+sURL("q")+`<NextMarker>web</NextMarker></Subscriptions>`, c.ok(200, "GET", "/topics/t/subscriptions", ""))
	c.header = nil
	c.fails(404, "TopicNotExist", "GET", "/topics/nope/subscriptions", "")

	c.ok(http.StatusNoContent, "DELETE", "/topics/t/subscriptions/web", "")
	c.fails(404, "SubscriptionNotExist", "GET", "/topics/t/subscriptions/web", "")
	c.fails(404, "SubscriptionNotExist", "DELETE", "/topics/t/subscriptions/web", "")
}

func TestSubscribeErrors(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.client()
	c.ok(http.StatusCreated, "PUT", "/topics/t", "")
	sub := func(ep, more string) string {
		return `<Subscription><Endpoint>` + ep + `</Endpoint>` + more + `</Subscription>`
	}
	for _, ep := range []string{"", "ftp://example.com", "mail:directmail:a@b.c", "http://", "http://127.0.0.1:9/x", "http://[::1]/", "http://10.0.0.1/",
		"http://a b/", "acs:mns:cn-hangzhou:1:queues/bad_name", "acs:mns:cn-hangzhou:1:queues/", "http://example.com:99999/", "http://u:p@example.com/"} {
		c.fails(400, "EndpointInvalid", "PUT", "/topics/t/subscriptions/s", sub(ep, ""))
	}
	c.fails(404, "QueueNotExist", "PUT", "/topics/t/subscriptions/s", sub("acs:mns:cn-hangzhou:1:queues/missing", ""))
	c.fails(400, "InvalidArgument", "PUT", "/topics/t/subscriptions/s", sub("https://example.com", "<NotifyContentFormat>YAML</NotifyContentFormat>"))
	c.fails(400, "InvalidArgument", "PUT", "/topics/t/subscriptions/s", sub("https://example.com", "<NotifyStrategy>SOMETIMES</NotifyStrategy>"))
	c.fails(400, "InvalidArgument", "PUT", "/topics/t/subscriptions/s", sub("https://example.com", "<FilterTag>"+strings.Repeat("x", 17)+"</FilterTag>"))
	c.fails(400, "SubscriptionNameInvalid", "PUT", "/topics/t/subscriptions/s_1", sub("https://example.com", ""))
	c.fails(400, "SubscriptionNameLengthError", "PUT", "/topics/t/subscriptions/"+strings.Repeat("s", 257), sub("https://example.com", ""))
	c.fails(404, "TopicNotExist", "PUT", "/topics/nope/subscriptions/s", sub("https://example.com", ""))
	c.fails(400, "MalformedXML", "PUT", "/topics/t/subscriptions/s", "")

	// --allow-private-endpoints.
	b := newAPI(t, mns.Config{AllowPrivateEndpoints: true})
	b.client().ok(http.StatusCreated, "PUT", "/topics/t", "")
	b.client().ok(http.StatusCreated, "PUT", "/topics/t/subscriptions/s", sub("http://127.0.0.1:9/x", ""))
}

func TestPublishMessage(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.client()
	c.ok(http.StatusCreated, "PUT", "/topics/t", `<Topic><MaximumMessageSize>1024</MaximumMessageSize></Topic>`)
	// No subscription: MNS answers success; nothing is stored.
	body := c.ok(http.StatusCreated, "POST", "/topics/t/messages", `<Message><MessageBody>hi</MessageBody></Message>`)
	require.Equal(t, "49F68A5C8493EC2C0BF489821C21FC3B", field(t, body, "MessageBodyMD5"))
	require.Equal(t, "0", field(t, c.ok(200, "GET", "/topics/t", ""), "MessageCount"))

	c.ok(http.StatusCreated, "PUT", "/topics/t/subscriptions/s", `<Subscription><Endpoint>https://example.com/n</Endpoint></Subscription>`)
	body = c.ok(http.StatusCreated, "POST", "/topics/t/messages", `<Message xmlns="http://mns.aliyuncs.com/doc/v1/"><MessageBody>hi</MessageBody><MessageTag>vip</MessageTag></Message>`)
	require.Equal(t, xmlDecl+`<Message `+nsAttr+`><MessageId>`+field(t, body, "MessageId")+`</MessageId><MessageBodyMD5>49F68A5C8493EC2C0BF489821C21FC3B</MessageBodyMD5></Message>`, body)
	require.Equal(t, "1", field(t, c.ok(200, "GET", "/topics/t", ""), "MessageCount"))

	c.fails(400, "InvalidArgument", "POST", "/topics/t/messages", `<Message><MessageBody></MessageBody></Message>`)
	c.fails(400, "InvalidArgument", "POST", "/topics/t/messages", `<Message><MessageBody>`+strings.Repeat("x", 1025)+`</MessageBody></Message>`)
	c.fails(400, "InvalidArgument", "POST", "/topics/t/messages", `<Message><MessageBody>x</MessageBody><MessageTag>`+strings.Repeat("x", 17)+`</MessageTag></Message>`)
	c.fails(404, "TopicNotExist", "POST", "/topics/nope/messages", `<Message><MessageBody>x</MessageBody></Message>`)
	c.fails(400, "MalformedXML", "POST", "/topics/t/messages", `<Message><MessageBody>x</MessageBody>`)
}

// MNS's longest names work all the way through the services.
func TestLongNames(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.client()
	tn, sn, qn := "t"+strings.Repeat("-", 255), "s"+strings.Repeat("x", 255), "q"+strings.Repeat("9", 255)
	c.ok(http.StatusCreated, "PUT", "/topics/"+tn, "")
	c.ok(http.StatusCreated, "PUT", "/queues/"+qn, "")
	c.ok(http.StatusCreated, "PUT", "/topics/"+tn+"/subscriptions/"+sn, "<Subscription><Endpoint>acs:mns:r:1:queues/"+qn+"</Endpoint></Subscription>")
	c.ok(http.StatusCreated, "POST", "/topics/"+tn+"/messages", "<Message><MessageBody>x</MessageBody></Message>")
	require.Equal(t, "1", field(t, c.ok(200, "GET", "/topics/"+tn, ""), "MessageCount"))
	c.ok(http.StatusCreated, "POST", "/queues/"+qn+"/messages", "<Message><MessageBody>x</MessageBody></Message>")
	require.Equal(t, "x", field(t, c.ok(200, "GET", "/queues/"+qn+"/messages", ""), "MessageBody"))
}
