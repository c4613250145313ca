package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// CreateQueueRequest is the input of CreateQueue. Nil numbers are not sent
// and take the server's defaults.
type CreateQueueRequest struct {
	Common
	// QueueName (queueName) is required.
	QueueName string
	// MaxMsgHeapNum (maxMsgHeapNum) caps the stored messages.
	MaxMsgHeapNum *int
	// PollingWaitSeconds (pollingWaitSeconds) is the default long-poll time.
	PollingWaitSeconds *int
	// VisibilityTimeout (visibilityTimeout) is how long, in seconds, a
	// received message stays invisible.
	VisibilityTimeout *int
	// MaxMsgSize (maxMsgSize) is the largest message body in bytes.
	MaxMsgSize *int
	// MsgRetentionSeconds (msgRetentionSeconds) is how long messages are kept.
	MsgRetentionSeconds *int
	// RewindSeconds (rewindSeconds) is how far back RewindQueue can go; 0
	// disables rewinding.
	RewindSeconds *int
	// DeadLetterQueueName (deadLetterQueueName, herald's extension) takes the
	// messages received MaxReceiveCount times without being deleted.
	DeadLetterQueueName string
	// MaxReceiveCount (maxReceiveCount, herald's extension) is required with
	// DeadLetterQueueName.
	MaxReceiveCount *int
}

func (*CreateQueueRequest) action() string { return "CreateQueue" }

func (r *CreateQueueRequest) encode(e *encoder) {
	e.str("queueName", r.QueueName)
	e.optInt("maxMsgHeapNum", r.MaxMsgHeapNum)
	e.optInt("pollingWaitSeconds", r.PollingWaitSeconds)
	e.optInt("visibilityTimeout", r.VisibilityTimeout)
	e.optInt("maxMsgSize", r.MaxMsgSize)
	e.optInt("msgRetentionSeconds", r.MsgRetentionSeconds)
	e.optInt("rewindSeconds", r.RewindSeconds)
	e.optStr("deadLetterQueueName", r.DeadLetterQueueName)
	e.optInt("maxReceiveCount", r.MaxReceiveCount)
}

// CreateQueueResponse is the output of CreateQueue.
type CreateQueueResponse struct {
	Meta
	// QueueID is the new queue's id.
	QueueID string `json:"queueId"`
}

// CreateQueue creates a queue.
func (c *Client) CreateQueue(ctx context.Context, req CreateQueueRequest) (*CreateQueueResponse, error) {
	return call[CreateQueueResponse](ctx, c, &req)
}

// DeleteQueueRequest is the input of DeleteQueue.
type DeleteQueueRequest struct {
	Common
	// QueueName (queueName) is required.
	QueueName string
}

func (*DeleteQueueRequest) action() string { return "DeleteQueue" }

func (r *DeleteQueueRequest) encode(e *encoder) { e.str("queueName", r.QueueName) }

// DeleteQueue deletes a queue and its messages.
func (c *Client) DeleteQueue(ctx context.Context, req DeleteQueueRequest) (*Meta, error) {
	return call[Meta](ctx, c, &req)
}

// ListQueueRequest is the input of ListQueue.
type ListQueueRequest struct {
	Common
	// SearchWord (searchWord) filters names by substring when not empty.
	SearchWord string
	// Offset (offset) skips queues; the server wants Limit with it.
	Offset *int
	// Limit (limit) is the page size; the server defaults to 20, max 50.
	Limit *int
}

func (*ListQueueRequest) action() string { return "ListQueue" }

func (r *ListQueueRequest) encode(e *encoder) {
	e.optStr("searchWord", r.SearchWord)
	e.optInt("offset", r.Offset)
	e.optInt("limit", r.Limit)
}

// QueueListItem is one entry of ListQueueResponse.QueueList.
type QueueListItem struct {
	// QueueID is the queue's id.
	QueueID string `json:"queueId"`
	// QueueName is the queue's name.
	QueueName string `json:"queueName"`
}

// ListQueueResponse is the output of ListQueue.
type ListQueueResponse struct {
	Meta
	// TotalCount is the number of matching queues, on all pages.
	TotalCount int `json:"totalCount"`
	// QueueList is this page.
	QueueList []QueueListItem `json:"queueList"`
}

// ListQueue lists queues a page at a time.
func (c *Client) ListQueue(ctx context.Context, req ListQueueRequest) (*ListQueueResponse, error) {
	return call[ListQueueResponse](ctx, c, &req)
}

// GetQueueAttributesRequest is the input of GetQueueAttributes.
type GetQueueAttributesRequest struct {
	Common
	// QueueName (queueName) is required.
	QueueName string
}

func (*GetQueueAttributesRequest) action() string { return "GetQueueAttributes" }

func (r *GetQueueAttributesRequest) encode(e *encoder) { e.str("queueName", r.QueueName) }

// GetQueueAttributesResponse is the output of GetQueueAttributes. Times are
// Unix seconds.
type GetQueueAttributesResponse struct {
	Meta
	// MaxMsgHeapNum caps the stored messages.
	MaxMsgHeapNum int `json:"maxMsgHeapNum"`
	// PollingWaitSeconds is the default long-poll time.
	PollingWaitSeconds int `json:"pollingWaitSeconds"`
	// VisibilityTimeout is how long, in seconds, a received message stays invisible.
	VisibilityTimeout int `json:"visibilityTimeout"`
	// MaxMsgSize is the largest message body in bytes.
	MaxMsgSize int `json:"maxMsgSize"`
	// MsgRetentionSeconds is how long messages are kept.
	MsgRetentionSeconds int `json:"msgRetentionSeconds"`
	// CreateTime is when the queue was created.
	CreateTime int64 `json:"createTime"`
	// LastModifyTime is when its attributes last changed.
	LastModifyTime int64 `json:"lastModifyTime"`
	// ActiveMsgNum counts messages ready to receive.
	ActiveMsgNum int64 `json:"activeMsgNum"`
	// InactiveMsgNum counts received messages not yet deleted or visible again.
	InactiveMsgNum int64 `json:"inactiveMsgNum"`
	// DelayMsgNum counts messages whose delay has not passed.
	DelayMsgNum int64 `json:"delayMsgNum"`
	// RewindSeconds is how far back RewindQueue can go.
	RewindSeconds int `json:"rewindSeconds"`
	// RewindMsgNum counts messages kept for rewinding (read from
	// "rewindMsgNum", or "rewindmsgNum" as the Python SDK spells it).
	RewindMsgNum int64 `json:"rewindMsgNum"`
	// MinMsgTime is the enqueue time of the oldest message.
	MinMsgTime int64 `json:"minMsgTime"`
	// DeadLetterQueueName is the dead-letter queue, if any (herald's
	// extension).
	DeadLetterQueueName string `json:"deadLetterQueueName"`
	// MaxReceiveCount is the receives before dead-lettering (herald's
	// extension).
	MaxReceiveCount int `json:"maxReceiveCount"`
}

// UnmarshalJSON also accepts the "rewindmsgNum" spelling.
func (r *GetQueueAttributesResponse) UnmarshalJSON(b []byte) error {
	type plain GetQueueAttributesResponse
	var aux struct {
		plain
		Lower *int64 `json:"rewindmsgNum"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*r = GetQueueAttributesResponse(aux.plain)
	if aux.Lower != nil && r.RewindMsgNum == 0 {
		r.RewindMsgNum = *aux.Lower
	}
	return nil
}

// GetQueueAttributes returns a queue's attributes and message counts.
func (c *Client) GetQueueAttributes(ctx context.Context, req GetQueueAttributesRequest) (*GetQueueAttributesResponse, error) {
	return call[GetQueueAttributesResponse](ctx, c, &req)
}

// SetQueueAttributesRequest is the input of SetQueueAttributes. Only non-nil
// numbers are sent and changed.
type SetQueueAttributesRequest struct {
	Common
	// QueueName (queueName) is required.
	QueueName string
	// MaxMsgHeapNum (maxMsgHeapNum) caps the stored messages.
	MaxMsgHeapNum *int
	// PollingWaitSeconds (pollingWaitSeconds) is the default long-poll time.
	PollingWaitSeconds *int
	// VisibilityTimeout (visibilityTimeout) is how long, in seconds, a
	// received message stays invisible.
	VisibilityTimeout *int
	// MaxMsgSize (maxMsgSize) is the largest message body in bytes.
	MaxMsgSize *int
	// MsgRetentionSeconds (msgRetentionSeconds) is how long messages are kept.
	MsgRetentionSeconds *int
	// RewindSeconds (rewindSeconds) is how far back RewindQueue can go.
	RewindSeconds *int
	// DeadLetterQueueName (deadLetterQueueName, herald's extension) sets the
	// dead-letter queue.
	DeadLetterQueueName string
	// MaxReceiveCount (maxReceiveCount, herald's extension) sets the receives
	// before a message is dead-lettered.
	MaxReceiveCount *int
}

func (*SetQueueAttributesRequest) action() string { return "SetQueueAttributes" }

func (r *SetQueueAttributesRequest) encode(e *encoder) {
	e.str("queueName", r.QueueName)
	e.optInt("maxMsgHeapNum", r.MaxMsgHeapNum)
	e.optInt("pollingWaitSeconds", r.PollingWaitSeconds)
	e.optInt("visibilityTimeout", r.VisibilityTimeout)
	e.optInt("maxMsgSize", r.MaxMsgSize)
	e.optInt("msgRetentionSeconds", r.MsgRetentionSeconds)
	e.optInt("rewindSeconds", r.RewindSeconds)
	e.optStr("deadLetterQueueName", r.DeadLetterQueueName)
	e.optInt("maxReceiveCount", r.MaxReceiveCount)
}

// SetQueueAttributes changes a queue's attributes.
func (c *Client) SetQueueAttributes(ctx context.Context, req SetQueueAttributesRequest) (*Meta, error) {
	return call[Meta](ctx, c, &req)
}

// RewindQueueRequest is the input of RewindQueue.
type RewindQueueRequest struct {
	Common
	// QueueName (queueName) is required.
	QueueName string
	// StartConsumeTime (startConsumeTime), in Unix seconds, is required:
	// receives then start from the messages produced after it.
	StartConsumeTime int64
}

func (*RewindQueueRequest) action() string { return "RewindQueue" }

func (r *RewindQueueRequest) encode(e *encoder) {
	e.str("queueName", r.QueueName)
	e.int("startConsumeTime", r.StartConsumeTime)
}

// RewindQueue makes a queue deliver again the messages produced after a time.
func (c *Client) RewindQueue(ctx context.Context, req RewindQueueRequest) (*Meta, error) {
	return call[Meta](ctx, c, &req)
}

// SendMessageRequest is the input of SendMessage.
type SendMessageRequest struct {
	Common
	// QueueName (queueName) is required.
	QueueName string
	// MsgBody (msgBody) is required and at least one byte.
	MsgBody string
	// DelaySeconds (delaySeconds) delays delivery when not nil.
	DelaySeconds *int
}

func (*SendMessageRequest) action() string { return "SendMessage" }

func (r *SendMessageRequest) encode(e *encoder) {
	e.str("queueName", r.QueueName)
	e.str("msgBody", r.MsgBody)
	e.optInt("delaySeconds", r.DelaySeconds)
}

// SendMessageResponse is the output of SendMessage.
type SendMessageResponse struct {
	Meta
	// MsgID is the new message's id.
	MsgID string `json:"msgId"`
}

// SendMessage adds a message to a queue.
func (c *Client) SendMessage(ctx context.Context, req SendMessageRequest) (*SendMessageResponse, error) {
	return call[SendMessageResponse](ctx, c, &req)
}

// BatchSendMessageRequest is the input of BatchSendMessage.
type BatchSendMessageRequest struct {
	Common
	// QueueName (queueName) is required.
	QueueName string
	// MsgBodies (msgBody.1 … msgBody.n) are the messages, at most 16.
	MsgBodies []string
	// DelaySeconds (delaySeconds) delays every message when not nil.
	DelaySeconds *int
}

func (*BatchSendMessageRequest) action() string { return "BatchSendMessage" }

func (r *BatchSendMessageRequest) encode(e *encoder) {
	e.str("queueName", r.QueueName)
	e.list("msgBody", r.MsgBodies)
	e.optInt("delaySeconds", r.DelaySeconds)
}

// MsgIDItem is one entry of a batch send's or batch publish's MsgList.
type MsgIDItem struct {
	// MsgID is the message's id.
	MsgID string `json:"msgId"`
}

// BatchSendMessageResponse is the output of BatchSendMessage.
type BatchSendMessageResponse struct {
	Meta
	// MsgList has one id per message, in request order.
	MsgList []MsgIDItem `json:"msgList"`
}

// BatchSendMessage adds up to 16 messages to a queue.
func (c *Client) BatchSendMessage(ctx context.Context, req BatchSendMessageRequest) (*BatchSendMessageResponse, error) {
	return call[BatchSendMessageResponse](ctx, c, &req)
}

// Message is a received message. Times are Unix seconds.
type Message struct {
	// MsgBody is the body as sent.
	MsgBody string `json:"msgBody"`
	// MsgID is the message's id.
	MsgID string `json:"msgId"`
	// ReceiptHandle deletes the message; it is valid until NextVisibleTime.
	ReceiptHandle string `json:"receiptHandle"`
	// EnqueueTime is when the message was sent.
	EnqueueTime int64 `json:"enqueueTime"`
	// NextVisibleTime is when the message can be received again.
	NextVisibleTime int64 `json:"nextVisibleTime"`
	// FirstDequeueTime is when the message was first received.
	FirstDequeueTime int64 `json:"firstDequeueTime"`
	// DequeueCount is how many times the message has been received.
	DequeueCount int64 `json:"dequeueCount"`
}

// ReceiveMessageRequest is the input of ReceiveMessage.
type ReceiveMessageRequest struct {
	Common
	// QueueName (queueName) is required.
	QueueName string
	// PollingWaitSeconds (pollingWaitSeconds, 0–30) is how long to wait for
	// a message; nil means the queue's attribute.
	PollingWaitSeconds *int
}

func (*ReceiveMessageRequest) action() string { return "ReceiveMessage" }

func (r *ReceiveMessageRequest) encode(e *encoder) {
	e.str("queueName", r.QueueName)
	e.optInt("pollingWaitSeconds", r.PollingWaitSeconds)
}

// ReceiveMessageResponse is the output of ReceiveMessage.
type ReceiveMessageResponse struct {
	Meta
	Message
}

// ReceiveMessage receives one message, waiting up to the poll time. An empty
// queue is an *Error matching ErrNoMessage (code 7000). The request timeout
// is lengthened by the poll time (30 s when PollingWaitSeconds is nil).
func (c *Client) ReceiveMessage(ctx context.Context, req ReceiveMessageRequest) (*ReceiveMessageResponse, error) {
	return call[ReceiveMessageResponse](ctx, c, &req)
}

// BatchReceiveMessageRequest is the input of BatchReceiveMessage.
type BatchReceiveMessageRequest struct {
	Common
	// QueueName (queueName) is required.
	QueueName string
	// NumOfMsg (numOfMsg, 1–16) is required: the most messages to return.
	NumOfMsg int
	// PollingWaitSeconds (pollingWaitSeconds, 0–30) is how long to wait for
	// a message; nil means the queue's attribute.
	PollingWaitSeconds *int
}

func (*BatchReceiveMessageRequest) action() string { return "BatchReceiveMessage" }

func (r *BatchReceiveMessageRequest) encode(e *encoder) {
	e.str("queueName", r.QueueName)
	e.int("numOfMsg", int64(r.NumOfMsg))
	e.optInt("pollingWaitSeconds", r.PollingWaitSeconds)
}

// BatchReceiveMessageResponse is the output of BatchReceiveMessage.
type BatchReceiveMessageResponse struct {
	Meta
	// MsgInfoList holds the received messages.
	MsgInfoList []Message `json:"msgInfoList"`
}

// BatchReceiveMessage receives up to NumOfMsg messages, waiting up to the poll
// time for the first. An empty queue is an *Error matching ErrNoMessage.
func (c *Client) BatchReceiveMessage(ctx context.Context, req BatchReceiveMessageRequest) (*BatchReceiveMessageResponse, error) {
	return call[BatchReceiveMessageResponse](ctx, c, &req)
}

// DeleteMessageRequest is the input of DeleteMessage.
type DeleteMessageRequest struct {
	Common
	// QueueName (queueName) is required.
	QueueName string
	// ReceiptHandle (receiptHandle) is required, from the latest receive.
	ReceiptHandle string
}

func (*DeleteMessageRequest) action() string { return "DeleteMessage" }

func (r *DeleteMessageRequest) encode(e *encoder) {
	e.str("queueName", r.QueueName)
	e.str("receiptHandle", r.ReceiptHandle)
}

// DeleteMessage deletes a received message.
func (c *Client) DeleteMessage(ctx context.Context, req DeleteMessageRequest) (*Meta, error) {
	return call[Meta](ctx, c, &req)
}

// BatchDeleteMessageRequest is the input of BatchDeleteMessage.
type BatchDeleteMessageRequest struct {
	Common
	// QueueName (queueName) is required.
	QueueName string
	// ReceiptHandles (receiptHandle.1 … receiptHandle.n), at most 16.
	ReceiptHandles []string
}

func (*BatchDeleteMessageRequest) action() string { return "BatchDeleteMessage" }

func (r *BatchDeleteMessageRequest) encode(e *encoder) {
	e.str("queueName", r.QueueName)
	e.list("receiptHandle", r.ReceiptHandles)
}

// BatchDeleteError is one receipt handle that BatchDeleteMessage could not
// delete.
type BatchDeleteError struct {
	// Code is the CMQ code for this handle, e.g. 4430.
	Code int `json:"code"`
	// Message says why.
	Message string `json:"message"`
	// ReceiptHandle is the handle as sent.
	ReceiptHandle string `json:"receiptHandle"`
}

// BatchDeleteMessageResponse is the output of BatchDeleteMessage.
type BatchDeleteMessageResponse struct {
	Meta
	// ErrorList names the handles that were not deleted; empty on success.
	ErrorList []BatchDeleteError `json:"errorList"`
}

// BatchDeleteMessage deletes up to 16 received messages. When some or all of
// them fail (codes 6010 and 6020) it returns both the response, whose
// ErrorList names the failed handles, and the *Error; the handles not in
// ErrorList were deleted.
func (c *Client) BatchDeleteMessage(ctx context.Context, req BatchDeleteMessageRequest) (*BatchDeleteMessageResponse, error) {
	action, ps := params(&req)
	raw, meta, err := c.send(ctx, action, ps)
	partial := errors.Is(err, ErrBatchDeletePartial) || errors.Is(err, ErrBatchDeleteFailed)
	if err != nil && !partial {
		return nil, err
	}
	res := &BatchDeleteMessageResponse{}
	if derr := json.Unmarshal(raw, res); derr != nil {
		return nil, fmt.Errorf("cmq %s: %w: %w", action, ErrMalformedResponse, derr)
	}
	res.setMeta(meta)
	return res, err
}
