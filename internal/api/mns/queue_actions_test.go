package mns_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/queue"
)

func TestQueueLifecycle(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.client()
	res := c.do("PUT", "/queues/orders", `<?xml version="1.0" encoding="UTF-8"?><Queue xmlns="http://mns.aliyuncs.com/doc/v1/"><DelaySeconds>5</DelaySeconds><MaximumMessageSize>2048</MaximumMessageSize><MessageRetentionPeriod>600</MessageRetentionPeriod><VisibilityTimeout>60</VisibilityTimeout><PollingWaitSeconds>3</PollingWaitSeconds><LoggingEnabled>True</LoggingEnabled></Queue>`)
	require.Equal(t, http.StatusCreated, res.status, res.body)
	require.Equal(t, "http://"+testHost+"/queues/orders", res.header.Get("Location"))
	require.Empty(t, res.body)

	// The Go SDK's body: no namespace, no declaration.
	same := `<Queue><DelaySeconds>5</DelaySeconds><MaximumMessageSize>2048</MaximumMessageSize><MessageRetentionPeriod>600</MessageRetentionPeriod><VisibilityTimeout>60</VisibilityTimeout><PollingWaitSeconds>3</PollingWaitSeconds></Queue>`
	c.ok(http.StatusNoContent, "PUT", "/queues/orders", same)
	c.fails(409, "QueueAlreadyExist", "PUT", "/queues/orders", `<Queue><VisibilityTimeout>61</VisibilityTimeout></Queue>`)
	c.fails(409, "QueueAlreadyExist", "PUT", "/queues/ORDERS", same)

	q, err := a.queues.Queue(context.Background(), testAppID, "orders")
	require.NoError(t, err)
	require.Equal(t, []int{5, 2048, 600, 60, 3}, []int{q.DelaySeconds, q.MaxMsgSize, q.MsgRetentionSeconds, q.VisibilityTimeout, q.PollingWaitSeconds})

	body := c.ok(http.StatusOK, "GET", "/queues/orders", "")
	require.Equal(t, xmlDecl+`<Queue `+nsAttr+`><QueueName>orders</QueueName><CreateTime>`+strconv.FormatInt(testNow.Unix(), 10)+
		`</CreateTime><LastModifyTime>`+strconv.FormatInt(testNow.Unix(), 10)+`</LastModifyTime><DelaySeconds>5</DelaySeconds>`+
		`<MaximumMessageSize>2048</MaximumMessageSize><MessageRetentionPeriod>600</MessageRetentionPeriod><VisibilityTimeout>60</VisibilityTimeout>`+
		`<PollingWaitSeconds>3</PollingWaitSeconds><ActiveMessages>0</ActiveMessages><InactiveMessages>0</InactiveMessages>`+
		`<DelayMessages>0</DelayMessages><LoggingEnabled>False</LoggingEnabled></Queue>`, body)

	a.clk.Advance(time.Minute)
	c.ok(http.StatusNoContent, "PUT", "/queues/orders?metaoverride=true", `<Queue><VisibilityTimeout>90</VisibilityTimeout></Queue>`)
	body = c.ok(http.StatusOK, "GET", "/queues/orders", "")
	require.Equal(t, "90", field(t, body, "VisibilityTimeout"))
	require.Equal(t, "5", field(t, body, "DelaySeconds"), "attributes not given are kept")
	require.Equal(t, strconv.FormatInt(testNow.Add(time.Minute).Unix(), 10), field(t, body, "LastModifyTime"))
	c.fails(404, "QueueNotExist", "PUT", "/queues/nope?metaoverride=true", `<Queue><VisibilityTimeout>90</VisibilityTimeout></Queue>`)

	// Defaults.
	c.ok(http.StatusCreated, "PUT", "/queues/plain", "")
	body = c.ok(http.StatusOK, "GET", "/queues/plain", "")
	for k, v := range map[string]string{"DelaySeconds": "0", "MaximumMessageSize": "65536", "MessageRetentionPeriod": "345600", "VisibilityTimeout": "30", "PollingWaitSeconds": "0"} {
		require.Equal(t, v, field(t, body, k), k)
	}

	c.ok(http.StatusNoContent, "DELETE", "/queues/plain", "")
	c.fails(404, "QueueNotExist", "GET", "/queues/plain", "")
	c.fails(404, "QueueNotExist", "DELETE", "/queues/plain", "")
}

func TestQueueAttributeErrors(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.client()
	for _, tc := range []struct{ body, msg string }{
		{`<Queue><DelaySeconds>604801</DelaySeconds></Queue>`, "The value of DelaySeconds should between 0 and 604800 seconds."},
		{`<Queue><MaximumMessageSize>1023</MaximumMessageSize></Queue>`, "The value of MaximumMessageSize should between 1024 and 65536 bytes."},
		{`<Queue><MaximumMessageSize>65537</MaximumMessageSize></Queue>`, "The value of MaximumMessageSize should between 1024 and 65536 bytes."},
		{`<Queue><MessageRetentionPeriod>59</MessageRetentionPeriod></Queue>`, "The value of MessageRetentionPeriod should between 60 and 604800 seconds."},
		{`<Queue><MessageRetentionPeriod>604801</MessageRetentionPeriod></Queue>`, "The value of MessageRetentionPeriod should between 60 and 604800 seconds."},
		{`<Queue><VisibilityTimeout>0</VisibilityTimeout></Queue>`, "The value of VisibilityTimeout should between 1 and 43200 seconds."},
		{`<Queue><PollingWaitSeconds>31</PollingWaitSeconds></Queue>`, "The value of PollingWaitSeconds should between 0 and 30 seconds."},
		{`<Queue><PollingWaitSeconds>x</PollingWaitSeconds></Queue>`, "The value of PollingWaitSeconds should between 0 and 30 seconds."},
		{`<Queue><LoggingEnabled>maybe</LoggingEnabled></Queue>`, "The value of LoggingEnabled should be True or False."},
	} {
		e := c.fails(400, "InvalidArgument", "PUT", "/queues/q", tc.body)
		require.Equal(t, tc.msg, e.Message)
	}
	c.fails(400, "InvalidArgument", "PUT", "/queues/q", `<Queue><DelaySeconds>700</DelaySeconds><MessageRetentionPeriod>600</MessageRetentionPeriod></Queue>`)
	c.fails(400, "MalformedXML", "PUT", "/queues/q", `<Queue><DelaySeconds>1</Queue>`)
	c.fails(400, "MalformedXML", "PUT", "/queues/q", `<Topic/>`)
	c.fails(400, "MalformedXML", "PUT", "/queues/q", `<Queue/><Queue/>`)
	c.fails(400, "QueueNameLengthError", "PUT", "/queues/"+strings.Repeat("a", 257), "")
	c.fails(400, "InvalidQueueName", "PUT", "/queues/1abc", "")
	c.fails(400, "InvalidQueueName", "PUT", "/queues/a_b", "")
	c.ok(http.StatusCreated, "PUT", "/queues/"+strings.Repeat("a", 256), "")
	c.ok(http.StatusCreated, "PUT", "/queues/a-b", "")
	c.fails(404, "QueueNotExist", "PUT", "/queues/q?metaoverride=true", `<Queue/>`)
}

func TestListQueue(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.client()
	for _, n := range []string{"b1", "a1", "a2", "a3"} {
		c.ok(http.StatusCreated, "PUT", "/queues/"+n, "")
	}
	url := func(n string) string {
		return "<Queue><QueueURL>http://" + testHost + "/queues/" + n + "</QueueURL></Queue>"
	}
	c.header = map[string]string{"x-mns-prefix": "a", "x-mns-ret-number": "2"}
	require.Equal(t, xmlDecl+`<Queues `+nsAttr+`>`+url("a1")+url("a2")+`<NextMarker>a3</NextMarker></Queues>`, c.ok(200, "GET", "/queues", ""))
	c.header["x-mns-marker"] = "a3"
	require.Equal(t, xmlDecl+`<Queues `+nsAttr+`>`+url("a3")+`</Queues>`, c.ok(200, "GET", "/queues", ""))
	c.header = map[string]string{"x-mns-ret-number": "1001"}
	c.fails(400, "InvalidArgument", "GET", "/queues", "")
	c.header = map[string]string{"x-mns-with-meta": "true", "x-mns-prefix": "b"}
	body := c.ok(200, "GET", "/queues", "")
	require.Equal(t, "http://"+testHost+"/queues/b1", field(t, body, "QueueURL"))
	require.Equal(t, "b1", field(t, body, "QueueName"))
	require.Equal(t, "30", field(t, body, "VisibilityTimeout"))
	c.header = nil
	require.Equal(t, 4, strings.Count(c.ok(200, "GET", "/queues", ""), "<QueueURL>"))
	// Another account sees none of them.
	other := a.client()
	other.keyID, other.secret = "testAK", "testSK"
	require.Equal(t, xmlDecl+`<Queues `+nsAttr+`></Queues>`, other.ok(200, "GET", "/queues", ""))
}

var (
	idRE     = regexp.MustCompile(`<MessageId>([^<]+)</MessageId>`)
	handleRE = regexp.MustCompile(`<ReceiptHandle>([^<]+)</ReceiptHandle>`)
)

func TestSendReceiveDelete(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.client()
	c.ok(http.StatusCreated, "PUT", "/queues/q", "")
	// The Go SDK sends Priority 0 and DelaySeconds 0 when they are unset.
	body := c.ok(http.StatusCreated, "POST", "/queues/q/messages", `<Message><MessageBody>a &amp; b</MessageBody><DelaySeconds>0</DelaySeconds><Priority>0</Priority></Message>`)
	id := field(t, body, "MessageId")
	require.Equal(t, xmlDecl+`<Message `+nsAttr+`><MessageId>`+id+`</MessageId><MessageBodyMD5>9FED43E0F68E6C705D96BD051704F1F2</MessageBodyMD5></Message>`, body)

	before := time.Now()
	body = c.ok(http.StatusOK, "GET", "/queues/q/messages?waitseconds=0", "")
	handle := field(t, body, "ReceiptHandle")
	require.Regexp(t, `^[A-Za-z0-9_-]+$`, handle)
	enq, _ := strconv.ParseInt(field(t, body, "EnqueueTime"), 10, 64)
	next, _ := strconv.ParseInt(field(t, body, "NextVisibleTime"), 10, 64)
	first, _ := strconv.ParseInt(field(t, body, "FirstDequeueTime"), 10, 64)
	require.InDelta(t, before.UnixMilli(), enq, 5000)
	require.InDelta(t, before.Add(30*time.Second).UnixMilli(), next, 5000)
	require.InDelta(t, before.UnixMilli(), first, 5000)
	require.Equal(t, xmlDecl+`<Message `+nsAttr+`><MessageId>`+id+`</MessageId><ReceiptHandle>`+handle+`</ReceiptHandle>`+
		`<MessageBodyMD5>`+bodyMD5Of("a & b")+`</MessageBodyMD5><MessageBody>a &amp; b</MessageBody><EnqueueTime>`+strconv.FormatInt(enq, 10)+
		`</EnqueueTime><NextVisibleTime>`+strconv.FormatInt(next, 10)+`</NextVisibleTime><FirstDequeueTime>`+strconv.FormatInt(first, 10)+
		`</FirstDequeueTime><DequeueCount>1</DequeueCount><Priority>8</Priority></Message>`, body)

	e := c.fails(404, "MessageNotExist", "GET", "/queues/q/messages?waitseconds=0", "")
	require.Equal(t, "Message not exist.", e.Message)
	c.fails(400, "InvalidArgument", "GET", "/queues/q/messages?waitseconds=31", "")
	c.fails(404, "QueueNotExist", "GET", "/queues/nope/messages?waitseconds=0", "")

	c.fails(400, "ReceiptHandleError", "DELETE", "/queues/q/messages?ReceiptHandle=bogus", "")
	c.fails(400, "MissingReceiptHandle", "DELETE", "/queues/q/messages?ReceiptHandle=", "")
	c.fails(400, "MissingReceiptHandle", "DELETE", "/queues/q/messages", "")
	c.ok(http.StatusNoContent, "DELETE", "/queues/q/messages?ReceiptHandle="+url.QueryEscape(handle), "")
	_, st, err := a.queues.Stats(context.Background(), testAppID, "q")
	require.NoError(t, err)
	require.Zero(t, st.Active+st.Inactive)
}

func bodyMD5Of(s string) string { return strings.ToUpper(md5hex(s)) }

func TestSendErrorsAndPriority(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.client()
	c.ok(http.StatusCreated, "PUT", "/queues/q", `<Queue><MaximumMessageSize>1024</MaximumMessageSize></Queue>`)
	c.fails(400, "InvalidArgument", "POST", "/queues/q/messages", `<Message><MessageBody></MessageBody></Message>`)
	c.fails(400, "InvalidArgument", "POST", "/queues/q/messages", `<Message><MessageBody>`+strings.Repeat("x", 1025)+`</MessageBody></Message>`)
	c.fails(400, "InvalidArgument", "POST", "/queues/q/messages", `<Message><MessageBody>x</MessageBody><Priority>17</Priority></Message>`)
	c.fails(400, "InvalidArgument", "POST", "/queues/q/messages", `<Message><MessageBody>x</MessageBody><DelaySeconds>604801</DelaySeconds></Message>`)
	c.fails(400, "InvalidArgument", "POST", "/queues/q/messages", `<Message><MessageBody>x</MessageBody><DelaySeconds>345601</DelaySeconds></Message>`)
	c.fails(400, "MalformedXML", "POST", "/queues/q/messages", `<Message><MessageBody>x</Message>`)
	c.fails(400, "MalformedXML", "POST", "/queues/q/messages", ``)
	c.fails(404, "QueueNotExist", "POST", "/queues/nope/messages", `<Message><MessageBody>x</MessageBody></Message>`)

	c.ok(http.StatusCreated, "POST", "/queues/q/messages", `<Message><MessageBody>p</MessageBody><Priority>1</Priority></Message>`)
	c.ok(http.StatusCreated, "POST", "/queues/q/messages", `<Message><MessageBody>later</MessageBody><DelaySeconds>3600</DelaySeconds></Message>`)
	body := c.ok(http.StatusOK, "GET", "/queues/q/messages?peekonly=true", "")
	require.Equal(t, "p", field(t, body, "MessageBody"))
	require.Equal(t, "1", field(t, body, "Priority"))
	require.Equal(t, "0", field(t, body, "DequeueCount"))
	require.NotContains(t, body, "ReceiptHandle")
	require.NotContains(t, body, "NextVisibleTime")
	body = c.ok(http.StatusOK, "GET", "/queues/q/messages", "")
	require.Equal(t, "1", field(t, body, "Priority"))
	require.Equal(t, "1", field(t, c.ok(http.StatusOK, "GET", "/queues/q", ""), "DelayMessages"))
}

func TestBatchMessages(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.client()
	c.ok(http.StatusCreated, "PUT", "/queues/q", "")
	msgs := "<Messages>"
	for i := range 3 {
		msgs += `<Message><MessageBody>m` + strconv.Itoa(i) + `</MessageBody><Priority>` + strconv.Itoa(i+1) + `</Priority></Message>`
	}
	body := c.ok(http.StatusCreated, "POST", "/queues/q/messages", msgs+"</Messages>")
	require.Len(t, idRE.FindAllString(body, -1), 3)
	require.True(t, strings.HasPrefix(body, xmlDecl+`<Messages `+nsAttr+`><Message><MessageId>`), body)
	require.Contains(t, body, `<MessageBodyMD5>`+bodyMD5Of("m0")+`</MessageBodyMD5>`)

	// A partial failure: the good messages are sent, the answer lists both.
	res := c.do("POST", "/queues/q/messages", `<Messages><Message><MessageBody>ok</MessageBody></Message><Message><MessageBody/></Message></Messages>`)
	require.Equal(t, http.StatusInternalServerError, res.status)
	require.Regexp(t, `^`+regexp.QuoteMeta(xmlDecl+`<Messages `+nsAttr+`><Message><MessageId>`)+`[^<]+</MessageId><MessageBodyMD5>`+bodyMD5Of("ok")+
		`</MessageBodyMD5></Message><Message><ErrorCode>InvalidArgument</ErrorCode><ErrorMessage>The MessageBody should not be empty.</ErrorMessage></Message></Messages>$`, res.body)

	c.fails(400, "InvalidArgument", "POST", "/queues/q/messages", `<Messages></Messages>`)
	c.fails(400, "InvalidArgument", "POST", "/queues/q/messages", `<Messages>`+strings.Repeat(`<Message><MessageBody>x</MessageBody></Message>`, 17)+`</Messages>`)
	c.fails(400, "InvalidArgument", "POST", "/queues/q/messages", `<Messages>`+strings.Repeat(`<Message><MessageBody>`+strings.Repeat("x", 5000)+`</MessageBody></Message>`, 14)+`</Messages>`)
	c.fails(404, "QueueNotExist", "POST", "/queues/nope/messages", `<Messages><Message><MessageBody/></Message></Messages>`)

	body = c.ok(http.StatusOK, "GET", "/queues/q/messages?numOfMessages=2&peekonly=true", "")
	require.Equal(t, 2, strings.Count(body, "<MessageBody>"))
	body = c.ok(http.StatusOK, "GET", "/queues/q/messages?numOfMessages=16&waitseconds=1", "")
	require.True(t, strings.HasPrefix(body, xmlDecl+`<Messages `+nsAttr+`><Message>`), body)
	handles := handleRE.FindAllStringSubmatch(body, -1)
	require.Len(t, handles, 4)
	c.fails(400, "InvalidArgument", "GET", "/queues/q/messages?numOfMessages=17", "")
	c.fails(404, "MessageNotExist", "GET", "/queues/q/messages?numOfMessages=2", "")
	c.fails(404, "MessageNotExist", "GET", "/queues/q/messages?numOfMessages=2&peekonly=true", "")

	del := "<ReceiptHandles><ReceiptHandle>" + handles[0][1] + "</ReceiptHandle><ReceiptHandle>bad</ReceiptHandle><ReceiptHandle>" + handles[1][1] + "</ReceiptHandle></ReceiptHandles>"
	res = c.do("DELETE", "/queues/q/messages", del)
	require.Equal(t, http.StatusNotFound, res.status)
	require.Equal(t, xmlDecl+`<Errors `+nsAttr+`><Error><ErrorCode>ReceiptHandleError</ErrorCode><ErrorMessage>The receipt handle you provided is not valid.</ErrorMessage><ReceiptHandle>bad</ReceiptHandle></Error></Errors>`, res.body)
	c.ok(http.StatusNoContent, "DELETE", "/queues/q/messages", "<ReceiptHandles><ReceiptHandle>"+handles[2][1]+"</ReceiptHandle><ReceiptHandle>"+handles[3][1]+"</ReceiptHandle></ReceiptHandles>")
	c.fails(400, "InvalidArgument", "DELETE", "/queues/q/messages", "<ReceiptHandles></ReceiptHandles>")
	_, st, err := a.queues.Stats(context.Background(), testAppID, "q")
	require.NoError(t, err)
	require.Zero(t, st.Active+st.Inactive)
}

func TestChangeMessageVisibility(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.client()
	c.ok(http.StatusCreated, "PUT", "/queues/q", "")
	c.ok(http.StatusCreated, "POST", "/queues/q/messages", `<Message><MessageBody>m</MessageBody></Message>`)
	handle := field(t, c.ok(http.StatusOK, "GET", "/queues/q/messages", ""), "ReceiptHandle")
	before := time.Now()
	body := c.ok(http.StatusOK, "PUT", "/queues/q/messages?ReceiptHandle="+handle+"&VisibilityTimeout=100", "")
	newHandle := field(t, body, "ReceiptHandle")
	next, _ := strconv.ParseInt(field(t, body, "NextVisibleTime"), 10, 64)
	require.InDelta(t, before.Add(100*time.Second).UnixMilli(), next, 5000)
	require.Equal(t, xmlDecl+`<ChangeVisibility `+nsAttr+`><ReceiptHandle>`+newHandle+`</ReceiptHandle><NextVisibleTime>`+
		strconv.FormatInt(next, 10)+`</NextVisibleTime></ChangeVisibility>`, body)

	c.fails(400, "MissingReceiptHandle", "PUT", "/queues/q/messages?VisibilityTimeout=10", "")
	c.fails(400, "MissingVisibilityTimeout", "PUT", "/queues/q/messages?ReceiptHandle="+newHandle, "")
	c.fails(400, "InvalidArgument", "PUT", "/queues/q/messages?ReceiptHandle="+newHandle+"&VisibilityTimeout=43201", "")
	c.fails(400, "InvalidArgument", "PUT", "/queues/q/messages?receiptHandle="+newHandle+"&visibilityTimeout=0", "")
	c.fails(400, "ReceiptHandleError", "PUT", "/queues/q/messages?ReceiptHandle=bogus&VisibilityTimeout=10", "")
	c.ok(http.StatusNoContent, "DELETE", "/queues/q/messages?ReceiptHandle="+newHandle, "")

	// Queues made through CMQ are the same queues.
	_, err := a.queues.CreateQueue(context.Background(), queue.Queue{AppID: testAppID, Name: "cmq_made", MaxMsgSize: 1 << 20})
	require.NoError(t, err)
	_, err = a.queues.SendMessages(context.Background(), testAppID, "cmq_made", []queue.Outgoing{{Body: []byte("hi")}})
	require.NoError(t, err)
	c.fails(400, "InvalidQueueName", "GET", "/queues/cmq_made/messages", "")
}
