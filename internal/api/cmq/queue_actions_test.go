package cmq_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/queue"
)

func TestQueueLifecycle(t *testing.T) {
	t.Parallel()
	a := newQueueAPI(t)
	out := a.ok("CreateQueue", "queueName", "Orders", "visibilityTimeout", "60", "maxMsgSize", "2048",
		"pollingWaitSeconds", "5", "msgRetentionSeconds", "3600", "rewindSeconds", "600", "maxMsgHeapNum", "1000000")
	require.Regexp(t, `^queue-`, out["queueId"])
	a.fails(4460, 10210, "CreateQueue", "queueName", "orders")

	attrs := a.ok("GetQueueAttributes", "queueName", "ORDERS")
	for _, k := range []string{"maxMsgHeapNum", "pollingWaitSeconds", "visibilityTimeout", "maxMsgSize", "msgRetentionSeconds",
		"createTime", "lastModifyTime", "activeMsgNum", "inactiveMsgNum", "rewindSeconds", "rewindMsgNum", "rewindmsgNum",
		"minMsgTime", "delayMsgNum", "maxReceiveCount"} {
		require.IsType(t, float64(0), attrs[k], k)
	}
	require.Equal(t, float64(60), attrs["visibilityTimeout"])
	require.Equal(t, float64(2048), attrs["maxMsgSize"])
	require.Equal(t, float64(5), attrs["pollingWaitSeconds"])
	require.Equal(t, float64(3600), attrs["msgRetentionSeconds"])
	require.Equal(t, float64(600), attrs["rewindSeconds"])
	require.Equal(t, float64(1000000), attrs["maxMsgHeapNum"])
	require.Equal(t, float64(testNow), attrs["createTime"])
	require.Equal(t, "Orders", attrs["queueName"])

	a.ok("SetQueueAttributes", "queueName", "orders", "visibilityTimeout", "10", "maxMsgHeapNum", "2000000")
	attrs = a.ok("GetQueueAttributes", "queueName", "orders")
	require.Equal(t, float64(10), attrs["visibilityTimeout"])
	require.Equal(t, float64(2000000), attrs["maxMsgHeapNum"])
	require.Equal(t, float64(2048), attrs["maxMsgSize"], "untouched")

	a.ok("CreateQueue", "queueName", "other")
	list := a.ok("ListQueue", "searchWord", "ORD")
	require.Equal(t, float64(1), list["totalCount"])
	require.Equal(t, "Orders", list["queueList"].([]any)[0].(map[string]any)["queueName"])
	list = a.ok("ListQueue", "offset", "1", "limit", "1")
	require.Equal(t, float64(2), list["totalCount"])
	require.Len(t, list["queueList"], 1)
	a.fails(4000, 10390, "ListQueue", "offset", "1")

	a.ok("DeleteQueue", "queueName", "orders")
	a.fails(4440, 10100, "DeleteQueue", "queueName", "orders")
	a.fails(4440, 10100, "GetQueueAttributes", "queueName", "orders")
	a.fails(4440, 10100, "SetQueueAttributes", "queueName", "orders", "visibilityTimeout", "10")
	a.fails(4440, 10100, "SendMessage", "queueName", "orders", "msgBody", "x")
}

func TestCreateQueueParams(t *testing.T) {
	t.Parallel()
	a := newQueueAPI(t)
	for _, tc := range []struct {
		name         string
		kv           []string
		code, module int
	}{
		{"no name", nil, 4000, 10390},
		{"name format", []string{"queueName", "1abc"}, 4000, 10020},
		{"name too long", []string{"queueName", "a" + strings.Repeat("b", 64)}, 4000, 10020},
		{"heap too small", []string{"queueName", "q", "maxMsgHeapNum", "999999"}, 4000, 10350},
		{"heap too big", []string{"queueName", "q", "maxMsgHeapNum", "1000000001"}, 4000, 10350},
		{"polling", []string{"queueName", "q", "pollingWaitSeconds", "31"}, 4000, 10350},
		{"visibility 0", []string{"queueName", "q", "visibilityTimeout", "0"}, 4000, 10350},
		{"visibility", []string{"queueName", "q", "visibilityTimeout", "43201"}, 4000, 10350},
		{"size small", []string{"queueName", "q", "maxMsgSize", "1023"}, 4000, 10350},
		{"size big", []string{"queueName", "q", "maxMsgSize", "1048577"}, 4000, 10350},
		{"retention", []string{"queueName", "q", "msgRetentionSeconds", "59"}, 4000, 10350},
		{"not a number", []string{"queueName", "q", "visibilityTimeout", "x"}, 4000, 10360},
		{"rewind over retention", []string{"queueName", "q", "msgRetentionSeconds", "60", "rewindSeconds", "61"}, 4000, 10700},
		{"dead letter missing", []string{"queueName", "q", "deadLetterQueueName", "nope", "maxReceiveCount", "3"}, 4440, 10100},
		{"dead letter self", []string{"queueName", "q", "deadLetterQueueName", "Q", "maxReceiveCount", "3"}, 4000, 10350},
		{"dead letter no count", []string{"queueName", "q", "deadLetterQueueName", "q2"}, 4000, 10390},
		{"receive count", []string{"queueName", "q", "deadLetterQueueName", "q2", "maxReceiveCount", "1001"}, 4000, 10350},
		{"dead letter name", []string{"queueName", "q", "deadLetterQueueName", "-x", "maxReceiveCount", "1"}, 4000, 10020},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.fails(tc.code, tc.module, "CreateQueue", tc.kv...)
		})
	}
	a.ok("CreateQueue", "queueName", "dead_letters")
	a.ok("CreateQueue", "queueName", "q", "deadLetterQueueName", "dead_letters", "maxReceiveCount", "1000")
	attrs := a.ok("GetQueueAttributes", "queueName", "q")
	require.Equal(t, "dead_letters", attrs["deadLetterQueueName"])
	require.Equal(t, float64(1000), attrs["maxReceiveCount"])
	a.ok("SetQueueAttributes", "queueName", "q", "deadLetterQueueName", "")
	attrs = a.ok("GetQueueAttributes", "queueName", "q")
	require.Equal(t, "", attrs["deadLetterQueueName"])
	require.Equal(t, float64(0), attrs["maxReceiveCount"])
	a.fails(4000, 10350, "SetQueueAttributes", "queueName", "q", "maxMsgSize", "1")
}

func TestQueueMessages(t *testing.T) {
	t.Parallel()
	a := newQueueAPI(t)
	a.ok("CreateQueue", "queueName", "q", "maxMsgSize", "1024")
	sent := a.ok("SendMessage", "queueName", "q", "msgBody", "hello", "delaySeconds", "0")
	require.Equal(t, "1", sent["msgId"])
	batch := a.ok("BatchSendMessage", "queueName", "q", "msgBody.1", "b1", "msgBody.2", "b2")
	require.Len(t, batch["msgList"], 2)
	require.Equal(t, "2", batch["msgList"].([]any)[0].(map[string]any)["msgId"])

	got := a.ok("ReceiveMessage", "queueName", "q", "pollingWaitSeconds", "0")
	require.Equal(t, "hello", got["msgBody"])
	require.Equal(t, "1", got["msgId"])
	require.Regexp(t, `^[A-Za-z0-9_-]+$`, got["receiptHandle"])
	for _, k := range []string{"enqueueTime", "nextVisibleTime", "firstDequeueTime", "dequeueCount"} {
		require.IsType(t, float64(0), got[k], k)
	}
	require.Equal(t, float64(1), got["dequeueCount"])
	require.Equal(t, got["nextVisibleTime"].(float64), got["firstDequeueTime"].(float64)+30)

	many := a.ok("BatchReceiveMessage", "queueName", "q", "numOfMsg", "16", "pollingWaitSeconds", "0")
	list := many["msgInfoList"].([]any)
	require.Len(t, list, 2)
	attrs := a.ok("GetQueueAttributes", "queueName", "q")
	require.Equal(t, float64(3), attrs["inactiveMsgNum"])
	require.Equal(t, float64(0), attrs["activeMsgNum"])

	a.fails(7000, 10200, "ReceiveMessage", "queueName", "q", "pollingWaitSeconds", "0")
	a.fails(7000, 10200, "BatchReceiveMessage", "queueName", "q", "numOfMsg", "2", "pollingWaitSeconds", "0")
	a.ok("DeleteMessage", "queueName", "q", "receiptHandle", got["receiptHandle"].(string))
	a.fails(4430, 10260, "DeleteMessage", "queueName", "q", "receiptHandle", "bogus")

	h1 := list[0].(map[string]any)["receiptHandle"].(string)
	h2 := list[1].(map[string]any)["receiptHandle"].(string)
	out := a.fails(6010, 10150, "BatchDeleteMessage", "queueName", "q", "receiptHandle.1", h1, "receiptHandle.2", "bad-handle")
	require.Equal(t, []any{map[string]any{"code": float64(4430), "message": "(10260)receipt handle is invalid", "receiptHandle": "bad-handle"}}, out["errorList"])
	out = a.fails(6020, 10290, "BatchDeleteMessage", "queueName", "q", "receiptHandle.0", "x", "receiptHandle.1", "y")
	require.Len(t, out["errorList"], 2)
	a.ok("BatchDeleteMessage", "queueName", "q", "receiptHandle.0", h2)
	attrs = a.ok("GetQueueAttributes", "queueName", "q")
	require.Equal(t, float64(0), attrs["inactiveMsgNum"])
}

func TestQueueMessageLimits(t *testing.T) {
	t.Parallel()
	a := newQueueAPI(t)
	a.ok("CreateQueue", "queueName", "q", "maxMsgSize", "1024", "msgRetentionSeconds", "600")
	many := []string{"queueName", "q"}
	for i := range 17 {
		many = append(many, "msgBody."+strconv.Itoa(i+1), "m")
	}
	for _, tc := range []struct {
		name         string
		action       string
		kv           []string
		code, module int
	}{
		{"empty body", "SendMessage", []string{"queueName", "q", "msgBody", ""}, 4000, 10120},
		{"no body", "SendMessage", []string{"queueName", "q"}, 4000, 10390},
		{"too big", "SendMessage", []string{"queueName", "q", "msgBody", strings.Repeat("x", 1025)}, 4400, 10230},
		{"batch too big", "BatchSendMessage", []string{"queueName", "q", "msgBody.1", "a", "msgBody.2", strings.Repeat("x", 1025)}, 4400, 10230},
		{"batch empty", "BatchSendMessage", []string{"queueName", "q", "msgBody.1", ""}, 4000, 10120},
		{"batch of 17", "BatchSendMessage", many, 4000, 10370},
		{"batch gap", "BatchSendMessage", []string{"queueName", "q", "msgBody.1", "a", "msgBody.3", "b"}, 4000, 10380},
		{"negative delay", "SendMessage", []string{"queueName", "q", "msgBody", "x", "delaySeconds", "-1"}, 4000, 10692},
		{"delay over retention", "SendMessage", []string{"queueName", "q", "msgBody", "x", "delaySeconds", "601"}, 4000, 10692},
		{"delay over max", "BatchSendMessage", []string{"queueName", "q", "msgBody.1", "x", "delaySeconds", "99999999"}, 4000, 10692},
		{"missing queue", "SendMessage", []string{"queueName", "nope", "msgBody", "x"}, 4440, 10100},
		{"bad name", "SendMessage", []string{"queueName", "_q", "msgBody", "x"}, 4000, 10020},
		{"numOfMsg 17", "BatchReceiveMessage", []string{"queueName", "q", "numOfMsg", "17"}, 4000, 10350},
		{"numOfMsg missing", "BatchReceiveMessage", []string{"queueName", "q"}, 4000, 10390},
		{"polling 31", "ReceiveMessage", []string{"queueName", "q", "pollingWaitSeconds", "31"}, 4000, 10350},
		{"no handle", "DeleteMessage", []string{"queueName", "q"}, 4000, 10390},
		{"batch no handle", "BatchDeleteMessage", []string{"queueName", "q"}, 4000, 10390},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.fails(tc.code, tc.module, tc.action, tc.kv...)
		})
	}
	handles := []string{"queueName", "q"}
	for i := range 17 {
		handles = append(handles, "receiptHandle."+strconv.Itoa(i), "h")
	}
	a.fails(4000, 10370, "BatchDeleteMessage", handles...)

	// The heap: CMQ's smallest is a million, so the service makes a small one.
	_, err := a.queues.CreateQueue(context.Background(), queue.Queue{AppID: testAppID, Name: "small", MaxMsgHeapNum: 2})
	require.NoError(t, err)
	a.ok("BatchSendMessage", "queueName", "small", "msgBody.1", "a", "msgBody.2", "b")
	a.fails(4410, 10240, "SendMessage", "queueName", "small", "msgBody", "c")
}

func TestRewindQueueAction(t *testing.T) {
	t.Parallel()
	a := newQueueAPI(t)
	a.ok("CreateQueue", "queueName", "q", "rewindSeconds", "3600")
	a.ok("CreateQueue", "queueName", "plain")
	now := strconv.FormatInt(testNow, 10)
	a.fails(6050, 10670, "RewindQueue", "queueName", "plain", "startConsumeTime", now)
	a.fails(4000, 10680, "RewindQueue", "queueName", "q", "startConsumeTime", strconv.FormatInt(testNow-3601, 10))
	a.fails(4000, 10390, "RewindQueue", "queueName", "q")
	a.fails(4440, 10100, "RewindQueue", "queueName", "nope", "startConsumeTime", now)

	a.ok("SendMessage", "queueName", "q", "msgBody", "once")
	got := a.ok("ReceiveMessage", "queueName", "q", "pollingWaitSeconds", "0")
	a.ok("DeleteMessage", "queueName", "q", "receiptHandle", got["receiptHandle"].(string))
	a.fails(7000, 10200, "ReceiveMessage", "queueName", "q", "pollingWaitSeconds", "0")
	// The fake clock is in 2023: every message is after startConsumeTime.
	a.ok("RewindQueue", "queueName", "q", "startConsumeTime", now)
	again := a.ok("ReceiveMessage", "queueName", "q", "pollingWaitSeconds", "0")
	require.Equal(t, "once", again["msgBody"])
	require.Equal(t, got["msgId"], again["msgId"])
}

func TestSubscribeToQueue(t *testing.T) {
	t.Parallel()
	a := newQueueAPI(t)
	a.ok("CreateTopic", "topicName", "t")
	a.fails(4440, 10100, "Subscribe", "topicName", "t", "subscriptionName", "s", "protocol", "queue", "endpoint", "missing")
	a.ok("CreateQueue", "queueName", "Inbox")
	a.ok("Subscribe", "topicName", "t", "subscriptionName", "s", "protocol", "queue", "endpoint", "inbox")
}
