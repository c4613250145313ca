package cmq

import (
	"fmt"
	"strconv"

	"github.com/herald-mq/herald/internal/queue"
)

// The reference of the queue actions; ranges and defaults are the queue
// package's.

const (
	groupQueues        = "Queues"
	groupQueueMessages = "Queue messages"
)

func queueNameParam(example string) ParamDoc {
	return ParamDoc{Name: "queueName", Type: "string", Required: true, Limit: nameLimit + "; unique per account without regard to case", Desc: "the queue", Example: example}
}

func rangeParam(name string, r queue.Range, def, desc, example string) ParamDoc {
	return ParamDoc{Name: name, Type: "int", Range: span(r.Min, r.Max), Default: def, Desc: desc, Example: example}
}

// queueAttributeDocs are the attributes queueAttributes reads; def gives
// each its default column.
func queueAttributeDocs(def func(r queue.Range) string) []ParamDoc {
	maxRC := rangeParam("maxReceiveCount", queue.RangeMaxReceiveCount, "none", "a message received this many times without being deleted moves to the dead-letter queue", "5")
	maxRC.Herald, maxRC.RequiredWhen = true, "with deadLetterQueueName"
	return []ParamDoc{
		rangeParam("maxMsgHeapNum", queue.RangeMaxMsgHeapNum, def(queue.RangeMaxMsgHeapNum), "most messages the queue holds (waiting, invisible, delayed, and deleted ones kept for rewind)", "1000000"),
		rangeParam("pollingWaitSeconds", queue.RangePollingWaitSeconds, def(queue.RangePollingWaitSeconds), "long-poll time of a receive without its own", "10"),
		rangeParam("visibilityTimeout", queue.RangeVisibilityTimeout, def(queue.RangeVisibilityTimeout), "seconds a received message stays invisible; lowering it voids receipt handles given out", "30"),
		rangeParam("maxMsgSize", queue.RangeMaxMsgSize, def(queue.RangeMaxMsgSize), "largest message body, bytes", "65536"),
		rangeParam("msgRetentionSeconds", queue.RangeMsgRetentionSeconds, def(queue.RangeMsgRetentionSeconds), "how long a message is kept", "345600"),
		rangeParam("rewindSeconds", queue.RangeRewindSeconds, def(queue.RangeRewindSeconds), "how long deleted messages are kept for RewindQueue (0: no rewind); at most msgRetentionSeconds", "3600"),
		{Name: "deadLetterQueueName", Type: "string", Limit: "a queue of the same account, not this one", Default: "none", Herald: true, Desc: "dead-letter queue (CMQ 3.0's DeadLetterQueueName); empty on SetQueueAttributes removes the policy", Example: "jobs-dead"},
		maxRC,
	}
}

var queueAttributeErrors = []error{
	errQueueName, errMissing("maxReceiveCount"), queue.ErrDeadLetterNotFound, queue.ErrDeadLetterSelf, queue.ErrBadAttribute,
}

// rangeDefault is a Range's default as the reference shows it.
func rangeDefault(r queue.Range) string { return strconv.FormatInt(r.Default, 10) }

var receivedFields = []FieldDoc{
	{Name: "msgBody", Type: "string"},
	{Name: "msgId", Type: "string"},
	{Name: "receiptHandle", Type: "string", Desc: "deletes this delivery of the message, until nextVisibleTime"},
	{Name: "enqueueTime", Type: "int", Desc: "Unix seconds"},
	{Name: "nextVisibleTime", Type: "int", Desc: "Unix seconds"},
	{Name: "firstDequeueTime", Type: "int", Desc: "Unix seconds"},
	{Name: "dequeueCount", Type: "int", Desc: "times the message was received"},
}

func listFields(list string, fields []FieldDoc) []FieldDoc {
	out := make([]FieldDoc, len(fields))
	for i, f := range fields {
		f.Name = list + "[]." + f.Name
		out[i] = f
	}
	return out
}

var pollingWaitParam = ParamDoc{
	Name: "pollingWaitSeconds", Type: "int", Range: span(queue.RangePollingWaitSeconds.Min, queue.RangePollingWaitSeconds.Max),
	Default: "the queue's pollingWaitSeconds", Desc: "long poll: wait up to this long for a message, answering the moment one arrives", Example: "0",
}

var delayParam = ParamDoc{
	Name: "delaySeconds", Type: "int", Limit: fmt.Sprintf("%d–%d, and at most the queue's msgRetentionSeconds", queue.RangeDelaySeconds.Min, queue.RangeDelaySeconds.Max),
	Default: "0", Desc: "seconds before the message can be received", Example: "0",
}

var queueDocs = []ActionDoc{
	{
		Name: "CreateQueue", Group: groupQueues, Summary: "Creates a queue.",
		Params: append([]ParamDoc{queueNameParam("emails")}, queueAttributeDocs(rangeDefault)...),
		Fields: []FieldDoc{{Name: "queueId", Type: "string", Desc: "the queue's id"}},
		Errors: append([]error{errRewindOverRetain, queue.ErrQueueExists, queue.ErrQueueLimit}, queueAttributeErrors...),
	},
	{
		Name: "SetQueueAttributes", Group: groupQueues, Summary: "Changes a queue's attributes; absent ones stay as they are.",
		Params: append([]ParamDoc{queueNameParam("jobs")}, queueAttributeDocs(func(queue.Range) string { return "unchanged" })...),
		Errors: append([]error{queue.ErrQueueNotFound, queue.ErrRewindOverRetained}, queueAttributeErrors...),
	},
	{
		Name: "GetQueueAttributes", Group: groupQueues, Summary: "Returns a queue's attributes and message counts; every field, always, as numbers.",
		Params: []ParamDoc{queueNameParam("jobs")},
		Fields: []FieldDoc{
			{Name: "queueId", Type: "string"},
			{Name: "queueName", Type: "string"},
			{Name: "maxMsgHeapNum", Type: "int"},
			{Name: "pollingWaitSeconds", Type: "int"},
			{Name: "visibilityTimeout", Type: "int"},
			{Name: "maxMsgSize", Type: "int"},
			{Name: "msgRetentionSeconds", Type: "int"},
			{Name: "createTime", Type: "int", Desc: "Unix seconds"},
			{Name: "lastModifyTime", Type: "int", Desc: "Unix seconds"},
			{Name: "activeMsgNum", Type: "int", Desc: "messages waiting to be received"},
			{Name: "inactiveMsgNum", Type: "int", Desc: "messages received and invisible"},
			{Name: "delayMsgNum", Type: "int", Desc: "messages not yet visible because of delaySeconds"},
			{Name: "rewindSeconds", Type: "int"},
			{Name: "rewindMsgNum", Type: "int", Desc: "deleted messages kept for rewind"},
			{Name: "rewindmsgNum", Type: "int", Desc: "the same, under the spelling the Python SDK reads"},
			{Name: "minMsgTime", Type: "int", Desc: "Unix seconds of the oldest message; 0 when none"},
			{Name: "deadLetterQueueName", Type: "string", Herald: true, Desc: "empty without a dead-letter policy"},
			{Name: "maxReceiveCount", Type: "int", Herald: true, Desc: "0 without a dead-letter policy"},
		},
		Errors: []error{errQueueName, queue.ErrQueueNotFound},
	},
	{
		Name: "ListQueue", Group: groupQueues, Summary: "Lists the account's queues by name.",
		Params: pageDocs(maxListOffset, maxListLimit, "jo"),
		Fields: []FieldDoc{
			{Name: "totalCount", Type: "int", Desc: "queues matching searchWord"},
			{Name: "queueList", Type: "array", Desc: "the page"},
			{Name: "queueList[].queueId", Type: "string"},
			{Name: "queueList[].queueName", Type: "string"},
		},
	},
	{
		Name: "DeleteQueue", Group: groupQueues, Summary: "Deletes a queue and its messages.",
		Params: []ParamDoc{queueNameParam("scratch")},
		Errors: []error{errQueueName, queue.ErrQueueNotFound},
	},
	{
		Name: "RewindQueue", Group: groupQueues, Summary: "Makes the messages sent since a time, deleted ones included (within rewindSeconds), receivable again.",
		Params: []ParamDoc{
			queueNameParam("jobs"),
			{Name: "startConsumeTime", Type: "int", Required: true, Range: span(0, maxStartConsumeTime), Desc: "Unix seconds; within the queue's rewindSeconds", Example: "1700000000"},
		},
		Errors: []error{errQueueName, queue.ErrQueueNotFound, queue.ErrCannotRewind, queue.ErrRewindTime},
	},
}

var queueMessageDocs = []ActionDoc{
	{
		Name: "SendMessage", Group: groupQueueMessages, Summary: "Sends a message to a queue; answered once stored.",
		Params: []ParamDoc{
			queueNameParam("jobs"),
			{Name: "msgBody", Type: "string", Required: true, Limit: "1 byte to the queue's maxMsgSize", Desc: "the message", Example: "resize 42.png"},
			delayParam,
		},
		Fields: []FieldDoc{{Name: "msgId", Type: "string", Desc: "the message's id"}},
		Errors: []error{errQueueName, errType("delaySeconds"), errDelayRange, queue.ErrQueueNotFound, queue.ErrEmptyMessage, queue.ErrMessageTooBig, queue.ErrHeapFull},
	},
	{
		Name: "BatchSendMessage", Group: groupQueueMessages, Summary: "Sends up to 16 messages with the same delay.",
		Params: []ParamDoc{
			queueNameParam("jobs"),
			{Name: "msgBody", Type: "string", List: queue.MaxBatch, Required: true, Limit: fmt.Sprintf("1 byte to the queue's maxMsgSize each, %d bytes in all", maxQueueBatchBytes), Desc: "the messages", Example: "resize 42.png"},
			delayParam,
		},
		Fields: []FieldDoc{
			{Name: "msgList", Type: "array", Desc: "one per msgBody, in order"},
			{Name: "msgList[].msgId", Type: "string"},
		},
		Errors: []error{errQueueName, errType("delaySeconds"), errDelayRange, errQueueBatchTooBig, queue.ErrQueueNotFound, queue.ErrEmptyMessage, queue.ErrMessageTooBig, queue.ErrHeapFull},
	},
	{
		Name: "ReceiveMessage", Group: groupQueueMessages, Summary: "Receives a message, long-polling up to pollingWaitSeconds.",
		Params: []ParamDoc{queueNameParam("jobs"), pollingWaitParam},
		Fields: receivedFields,
		Errors: []error{errQueueName, queue.ErrQueueNotFound, queue.ErrNoMessage},
	},
	{
		Name: "BatchReceiveMessage", Group: groupQueueMessages, Summary: "Receives up to numOfMsg messages, long-polling up to pollingWaitSeconds for the first.",
		Params: []ParamDoc{
			queueNameParam("jobs"),
			{Name: "numOfMsg", Type: "int", Required: true, Range: span(1, queue.MaxBatch), Desc: "most messages to receive", Example: "2"},
			pollingWaitParam,
		},
		Fields: append([]FieldDoc{{Name: "msgInfoList", Type: "array", Desc: "the messages"}}, listFields("msgInfoList", receivedFields)...),
		Errors: []error{errQueueName, queue.ErrQueueNotFound, queue.ErrNoMessage},
	},
	{
		Name: "DeleteMessage", Group: groupQueueMessages, Summary: "Deletes a received message by its receipt handle.",
		Params: []ParamDoc{
			queueNameParam("jobs"),
			{Name: "receiptHandle", Type: "string", Required: true, Desc: "from the receive; valid until the message's nextVisibleTime", Example: "<receiptHandle>"},
		},
		Errors: []error{errQueueName, queue.ErrQueueNotFound, queue.ErrInvalidHandle},
	},
	{
		Name: "BatchDeleteMessage", Group: groupQueueMessages, Summary: "Deletes up to 16 received messages by their receipt handles.",
		Params: []ParamDoc{
			queueNameParam("jobs"),
			{Name: "receiptHandle", Type: "string", List: queue.MaxBatch, Required: true, Desc: "from the receives", Example: "<receiptHandle>"},
		},
		Fields: []FieldDoc{
			{Name: "errorList", Type: "array", When: "the code is 6010 or 6020", Desc: "the handles refused"},
			{Name: "errorList[].code", Type: "int"},
			{Name: "errorList[].message", Type: "string"},
			{Name: "errorList[].receiptHandle", Type: "string"},
		},
		Errors: []error{errQueueName, queue.ErrQueueNotFound, errBatchDeletePart, errBatchDeleteFailed, queue.ErrInvalidHandle},
		Notes:  "Each refused handle is an item of errorList with its own code and message (4430/10260 for a handle no longer valid); the answer's code is 6010 when some handles were refused and 6020 when all were.",
	},
}
