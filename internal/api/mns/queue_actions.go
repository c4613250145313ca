package mns

import (
	"context"
	"crypto/md5" //nolint:gosec // MessageBodyMD5 is MD5 by protocol.
	"errors"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/herald-mq/herald/internal/queue"
)

// Queues is the queue service as the API uses it.
type Queues interface {
	CreateQueue(ctx context.Context, q queue.Queue) (queue.Queue, error)
	Queue(ctx context.Context, appID int64, name string) (queue.Queue, error)
	CheckQueue(ctx context.Context, appID int64, name string) error
	UpdateQueue(ctx context.Context, appID int64, name string, change func(*queue.Queue) error) (queue.Queue, error)
	DeleteQueue(ctx context.Context, appID int64, name string) error
	ListQueues(appID int64, search string, offset, limit int) (int, []queue.Queue)
	Stats(ctx context.Context, appID int64, name string) (queue.Queue, queue.Stats, error)
	SendMessages(ctx context.Context, appID int64, name string, out []queue.Outgoing) ([]string, error)
	Receive(ctx context.Context, appID int64, name string, n int, wait time.Duration) ([]queue.Message, error)
	Peek(ctx context.Context, appID int64, name string, n int) ([]queue.Message, error)
	Delete(ctx context.Context, appID int64, name string, handles []string) ([]error, error)
	ChangeVisibility(ctx context.Context, appID int64, name, handle string, vt time.Duration) (string, time.Time, error)
}

// MNS's limits (wire.md §2.4).
const (
	maxNameLen       = 256
	maxBatch         = 16
	maxBatchBytes    = 64 << 10
	maxListNumber    = 1000
	defaultPriority  = 8
	maxPriority      = 16
	maxDelaySeconds  = 604800
	maxWaitSeconds   = 30
	maxVisibility    = 43200
	minMessageSize   = 1024
	maxMessageSize   = 65536
	minRetention     = 60
	maxRetention     = 604800
	defaultRetention = 345600
	defaultVT        = 30
)

// nameRE is an MNS queue, topic or subscription name: a letter, then
// letters, digits and hyphens.
var nameRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*$`)

func checkName(name string, length, invalid *Error) error {
	if name == "" || len(name) > maxNameLen {
		return length
	}
	if !nameRE.MatchString(name) {
		return invalid
	}
	return nil
}

func (r *request) queueName() (string, error) {
	name := r.names[0]
	return name, checkName(name, errQueueNameLength, errQueueName)
}

// queueAttrs is the <Queue> of CreateQueue and SetQueueAttributes.
type queueAttrs struct {
	DelaySeconds           number `xml:"DelaySeconds"`
	MaximumMessageSize     number `xml:"MaximumMessageSize"`
	MessageRetentionPeriod number `xml:"MessageRetentionPeriod"`
	VisibilityTimeout      number `xml:"VisibilityTimeout"`
	PollingWaitSeconds     number `xml:"PollingWaitSeconds"`
	LoggingEnabled         string `xml:"LoggingEnabled"`
}

// apply sets on q the attributes present, or every default when defaults.
func (a *queueAttrs) apply(q *queue.Queue, defaults bool) error {
	type field struct {
		n           number
		name        string
		lo, hi, def int64
		unit        string
		dst         *int
	}
	fields := []field{
		{a.DelaySeconds, "DelaySeconds", 0, maxDelaySeconds, 0, "seconds", &q.DelaySeconds},
		{a.MaximumMessageSize, "MaximumMessageSize", minMessageSize, maxMessageSize, maxMessageSize, "bytes", &q.MaxMsgSize},
		{a.MessageRetentionPeriod, "MessageRetentionPeriod", minRetention, maxRetention, defaultRetention, "seconds", &q.MsgRetentionSeconds},
		{a.VisibilityTimeout, "VisibilityTimeout", 1, maxVisibility, defaultVT, "seconds", &q.VisibilityTimeout},
		{a.PollingWaitSeconds, "PollingWaitSeconds", 0, maxWaitSeconds, 0, "seconds", &q.PollingWaitSeconds},
	}
	for _, f := range fields {
		v, err := getNumber(f.n, f.name, f.lo, f.hi, f.def, f.unit)
		if err != nil {
			return err
		}
		if f.n != nil || defaults {
			*f.dst = int(v)
		}
	}
	_, err := boolText("LoggingEnabled", a.LoggingEnabled)
	return err
}

func (r *request) queueAttrs() (queueAttrs, error) {
	var a queueAttrs
	if len(strings.TrimSpace(string(r.body))) == 0 {
		return a, nil
	}
	return a, decode(r.body, "Queue", &a)
}

func (s *Server) createQueue(ctx context.Context, req *request) (reply, error) {
	name, err := req.queueName()
	if err != nil {
		return reply{}, err
	}
	attrs, err := req.queueAttrs()
	if err != nil {
		return reply{}, err
	}
	want := queue.Queue{AppID: req.appID(), Name: name}
	if err := attrs.apply(&want, true); err != nil {
		return reply{}, err
	}
	_, err = s.deps.Queues.CreateQueue(ctx, want)
	if errors.Is(err, queue.ErrQueueExists) {
		// MNS answers 204 to a create that changes nothing.
		have, gerr := s.deps.Queues.Queue(ctx, req.appID(), name)
		if gerr == nil && have.Name == name && sameQueueAttrs(have, want) {
			return reply{status: http.StatusNoContent}, nil
		}
	}
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusCreated, location: req.url("/queues/" + name)}, nil
}

func sameQueueAttrs(a, b queue.Queue) bool {
	return a.DelaySeconds == b.DelaySeconds && a.MaxMsgSize == b.MaxMsgSize && a.MsgRetentionSeconds == b.MsgRetentionSeconds &&
		a.VisibilityTimeout == b.VisibilityTimeout && a.PollingWaitSeconds == b.PollingWaitSeconds
}

func (s *Server) setQueueAttributes(ctx context.Context, req *request) (reply, error) {
	name, err := req.queueName()
	if err != nil {
		return reply{}, err
	}
	attrs, err := req.queueAttrs()
	if err != nil {
		return reply{}, err
	}
	var check queue.Queue
	if err := attrs.apply(&check, false); err != nil {
		return reply{}, err
	}
	_, err = s.deps.Queues.UpdateQueue(ctx, req.appID(), name, func(q *queue.Queue) error {
		return attrs.apply(q, false)
	})
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusNoContent}, nil
}

// queueAttributes is GetQueueAttributes's <Queue>, and with x-mns-with-meta
// an item of ListQueue. Python's SDK requires every element.
type queueAttributes struct {
	XMLName                struct{} `xml:"Queue"`
	NS                     string   `xml:"xmlns,attr,omitempty"`
	QueueURL               string   `xml:"QueueURL,omitempty"`
	QueueName              string   `xml:"QueueName"`
	CreateTime             int64    `xml:"CreateTime"`
	LastModifyTime         int64    `xml:"LastModifyTime"`
	DelaySeconds           int      `xml:"DelaySeconds"`
	MaximumMessageSize     int      `xml:"MaximumMessageSize"`
	MessageRetentionPeriod int      `xml:"MessageRetentionPeriod"`
	VisibilityTimeout      int      `xml:"VisibilityTimeout"`
	PollingWaitSeconds     int      `xml:"PollingWaitSeconds"`
	ActiveMessages         int64    `xml:"ActiveMessages"`
	InactiveMessages       int64    `xml:"InactiveMessages"`
	DelayMessages          int64    `xml:"DelayMessages"`
	LoggingEnabled         string   `xml:"LoggingEnabled"`
}

func (s *Server) queueAttributes(ctx context.Context, appID int64, name string) (queueAttributes, error) {
	q, st, err := s.deps.Queues.Stats(ctx, appID, name)
	if err != nil {
		return queueAttributes{}, err
	}
	return queueAttributes{
		QueueName: q.Name, CreateTime: q.CreateTime, LastModifyTime: q.LastModifyTime,
		DelaySeconds: q.DelaySeconds, MaximumMessageSize: q.MaxMsgSize, MessageRetentionPeriod: q.MsgRetentionSeconds,
		VisibilityTimeout: q.VisibilityTimeout, PollingWaitSeconds: q.PollingWaitSeconds,
		ActiveMessages: st.Active, InactiveMessages: st.Inactive, DelayMessages: st.Delayed, LoggingEnabled: boolWire(false),
	}, nil
}

func (s *Server) getQueueAttributes(ctx context.Context, req *request) (reply, error) {
	name, err := req.queueName()
	if err != nil {
		return reply{}, err
	}
	a, err := s.queueAttributes(ctx, req.appID(), name)
	if err != nil {
		return reply{}, err
	}
	a.NS = Namespace
	return reply{status: http.StatusOK, body: a}, nil
}

func (s *Server) deleteQueue(ctx context.Context, req *request) (reply, error) {
	name, err := req.queueName()
	if err != nil {
		return reply{}, err
	}
	if err := s.deps.Queues.DeleteQueue(ctx, req.appID(), name); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusNoContent}, nil
}

// listing is what the list headers ask for.
type listing struct {
	prefix, marker string
	limit          int
	withMeta       bool
}

func (r *request) listing() (listing, error) {
	h := r.http.Header
	l := listing{prefix: h.Get("x-mns-prefix"), marker: h.Get("x-mns-marker"), limit: maxListNumber}
	if v := h.Get("x-mns-ret-number"); v != "" {
		n, err := query{"n": v}.intParam("n", "x-mns-ret-number", 1, maxListNumber, maxListNumber)
		if err != nil {
			return listing{}, err
		}
		l.limit = int(n)
	}
	meta, err := boolText("x-mns-with-meta", h.Get("x-mns-with-meta"))
	l.withMeta = meta
	return l, err
}

// page picks from names (sorted without regard to case) those that start
// with the prefix, from the marker on, and returns them and the next marker.
func (l listing) page(names []string) ([]string, string) {
	var out []string
	marker := strings.ToLower(l.marker)
	for _, n := range names {
		if !strings.HasPrefix(n, l.prefix) || strings.ToLower(n) < marker {
			continue
		}
		if len(out) == l.limit {
			return out, n
		}
		out = append(out, n)
	}
	return out, ""
}

type queueList struct {
	XMLName    struct{}          `xml:"Queues"`
	NS         string            `xml:"xmlns,attr"`
	Queues     []queueAttributes `xml:"Queue"`
	NextMarker string            `xml:"NextMarker,omitempty"`
}

// queueItem is a ListQueue item without meta: only its URL.
type queueItem struct {
	XMLName  struct{} `xml:"Queue"`
	QueueURL string   `xml:"QueueURL"`
}

type queueURLList struct {
	XMLName    struct{}    `xml:"Queues"`
	NS         string      `xml:"xmlns,attr"`
	Queues     []queueItem `xml:"Queue"`
	NextMarker string      `xml:"NextMarker,omitempty"`
}

func (s *Server) listQueue(ctx context.Context, req *request) (reply, error) {
	l, err := req.listing()
	if err != nil {
		return reply{}, err
	}
	_, all := s.deps.Queues.ListQueues(req.appID(), "", 0, 1<<31-1)
	names := make([]string, len(all))
	for i, q := range all {
		names[i] = q.Name
	}
	page, next := l.page(names)
	if !l.withMeta {
		out := queueURLList{NS: Namespace, NextMarker: next, Queues: make([]queueItem, len(page))}
		for i, n := range page {
			out.Queues[i].QueueURL = req.url("/queues/" + n)
		}
		return reply{status: http.StatusOK, body: out}, nil
	}
	out := queueList{NS: Namespace, NextMarker: next}
	for _, n := range page {
		a, err := s.queueAttributes(ctx, req.appID(), n)
		if errors.Is(err, queue.ErrQueueNotFound) {
			continue // deleted since it was listed
		}
		if err != nil {
			return reply{}, err
		}
		a.QueueURL = req.url("/queues/" + n)
		out.Queues = append(out.Queues, a)
	}
	return reply{status: http.StatusOK, body: out}, nil
}

// messageIn is a <Message> of SendMessage and BatchSendMessage.
type messageIn struct {
	MessageBody  string `xml:"MessageBody"`
	DelaySeconds number `xml:"DelaySeconds"`
	Priority     number `xml:"Priority"`
}

type messagesIn struct {
	Messages []messageIn `xml:"Message"`
}

// outgoing checks a message: a body, DelaySeconds 0–604800 (absent: the
// queue's), Priority 1–16 (absent or 0, which the Go SDK sends when unset:
// 8).
func (m *messageIn) outgoing() (queue.Outgoing, error) {
	if m.MessageBody == "" {
		return queue.Outgoing{}, errEmptyMessage
	}
	delay, err := getNumber(m.DelaySeconds, "DelaySeconds", 0, maxDelaySeconds, -1, "seconds")
	if err != nil {
		return queue.Outgoing{}, err
	}
	prio, err := getNumber(m.Priority, "Priority", 0, maxPriority, defaultPriority, "")
	if err != nil {
		return queue.Outgoing{}, errArgument.with("The value of Priority should between 1 and 16.")
	}
	if prio == defaultPriority {
		prio = 0 // stored as none, which reads back as the default
	}
	d := time.Duration(delay) * time.Second
	if delay < 0 {
		d = -1
	}
	return queue.Outgoing{Body: []byte(m.MessageBody), Delay: d, Priority: int(prio)}, nil
}

// sentMessage is an item of the send answers: the id and MD5, or why the
// message was refused.
type sentMessage struct {
	XMLName        struct{} `xml:"Message"`
	NS             string   `xml:"xmlns,attr,omitempty"`
	ErrorCode      string   `xml:"ErrorCode,omitempty"`
	ErrorMessage   string   `xml:"ErrorMessage,omitempty"`
	MessageID      string   `xml:"MessageId,omitempty"`
	MessageBodyMD5 string   `xml:"MessageBodyMD5,omitempty"`
}

type sentMessages struct {
	XMLName  struct{}      `xml:"Messages"`
	NS       string        `xml:"xmlns,attr"`
	Messages []sentMessage `xml:"Message"`
}

func (m sentMessage) appendXML(b []byte) []byte {
	b = appendOpen(b, "Message", m.NS)
	if m.ErrorCode != "" {
		b = appendElem(b, "ErrorCode", m.ErrorCode)
	}
	if m.ErrorMessage != "" {
		b = appendElem(b, "ErrorMessage", m.ErrorMessage)
	}
	if m.MessageID != "" {
		b = appendElem(b, "MessageId", m.MessageID)
	}
	if m.MessageBodyMD5 != "" {
		b = appendElem(b, "MessageBodyMD5", m.MessageBodyMD5)
	}
	return append(b, "</Message>"...)
}

func (m sentMessages) appendXML(b []byte) []byte {
	b = appendOpen(b, "Messages", m.NS)
	for _, item := range m.Messages {
		b = item.appendXML(b)
	}
	return append(b, "</Messages>"...)
}

// bodyMD5 is MNS's MessageBodyMD5: the upper-case hex MD5 of the body.
func bodyMD5(b []byte) string {
	sum := md5.Sum(b) //nolint:gosec // protocol-mandated
	var out [32]byte
	for i, c := range sum {
		out[2*i], out[2*i+1] = upperHex[c>>4], upperHex[c&0xf]
	}
	return string(out[:])
}

func (s *Server) sendMessage(ctx context.Context, req *request) (reply, error) {
	name, err := req.queueName()
	if err != nil {
		return reply{}, err
	}
	m, ok := fastMessage(req.body)
	if !ok {
		if in, batch := fastMessages(req.body); batch {
			return s.batchSendMessage(ctx, req, name, in)
		}
		root, err := rootName(req.body)
		if err != nil {
			return reply{}, err
		}
		if root == "Messages" {
			var in messagesIn
			if err := decode(req.body, "Messages", &in); err != nil {
				return reply{}, err
			}
			return s.batchSendMessage(ctx, req, name, in)
		}
		if err := decode(req.body, "Message", &m); err != nil {
			return reply{}, err
		}
	}
	o, err := m.outgoing()
	if err != nil {
		return reply{}, err
	}
	ids, err := s.deps.Queues.SendMessages(ctx, req.appID(), name, []queue.Outgoing{o})
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusCreated, body: sentMessage{NS: Namespace, MessageID: ids[0], MessageBodyMD5: bodyMD5(o.Body)}}, nil
}

// batchSendMessage sends the messages that pass the checks; any that do not
// make the answer a partial failure (HTTP 500) listing, in order, ids and
// errors.
func (s *Server) batchSendMessage(ctx context.Context, req *request, name string, in messagesIn) (reply, error) {
	if len(in.Messages) == 0 || len(in.Messages) > maxBatch {
		return reply{}, errArgument.with("The count of messages should between 1 and %d.", maxBatch)
	}
	total := 0
	items := make([]sentMessage, len(in.Messages))
	var out []queue.Outgoing
	var at []int
	for i := range in.Messages {
		total += len(in.Messages[i].MessageBody)
		o, err := in.Messages[i].outgoing()
		if err != nil {
			wire, _ := wireError(err)
			items[i] = sentMessage{ErrorCode: wire.Code, ErrorMessage: wire.Message}
			continue
		}
		out = append(out, o)
		at = append(at, i)
	}
	if total > maxBatchBytes {
		return reply{}, errArgument.with("The total size of messages should not be more than %d bytes.", maxBatchBytes)
	}
	if len(out) > 0 {
		ids, err := s.deps.Queues.SendMessages(ctx, req.appID(), name, out)
		if err != nil {
			return reply{}, err
		}
		for j, i := range at {
			items[i] = sentMessage{MessageID: ids[j], MessageBodyMD5: bodyMD5(out[j].Body)}
		}
	} else if err := s.deps.Queues.CheckQueue(ctx, req.appID(), name); err != nil {
		return reply{}, err
	}
	status := http.StatusCreated
	if len(out) < len(items) {
		status = http.StatusInternalServerError
	}
	return reply{status: status, body: sentMessages{NS: Namespace, Messages: items}}, nil
}

// receivedMessage is a <Message> of the receive and peek answers.
type receivedMessage struct {
	XMLName          struct{} `xml:"Message"`
	NS               string   `xml:"xmlns,attr,omitempty"`
	MessageID        string   `xml:"MessageId"`
	ReceiptHandle    string   `xml:"ReceiptHandle,omitempty"`
	MessageBodyMD5   string   `xml:"MessageBodyMD5"`
	MessageBody      string   `xml:"MessageBody"`
	EnqueueTime      int64    `xml:"EnqueueTime"`
	NextVisibleTime  int64    `xml:"NextVisibleTime,omitempty"`
	FirstDequeueTime int64    `xml:"FirstDequeueTime"`
	DequeueCount     int      `xml:"DequeueCount"`
	Priority         int      `xml:"Priority"`
}

type receivedMessages struct {
	XMLName  struct{}          `xml:"Messages"`
	NS       string            `xml:"xmlns,attr"`
	Messages []receivedMessage `xml:"Message"`
}

func (m *receivedMessage) appendXML(b []byte) []byte {
	b = appendOpen(b, "Message", m.NS)
	b = appendElem(b, "MessageId", m.MessageID)
	if m.ReceiptHandle != "" {
		b = appendElem(b, "ReceiptHandle", m.ReceiptHandle)
	}
	b = appendElem(b, "MessageBodyMD5", m.MessageBodyMD5)
	b = appendElem(b, "MessageBody", m.MessageBody)
	b = appendIntElem(b, "EnqueueTime", m.EnqueueTime)
	if m.NextVisibleTime != 0 {
		b = appendIntElem(b, "NextVisibleTime", m.NextVisibleTime)
	}
	b = appendIntElem(b, "FirstDequeueTime", m.FirstDequeueTime)
	b = appendIntElem(b, "DequeueCount", int64(m.DequeueCount))
	b = appendIntElem(b, "Priority", int64(m.Priority))
	return append(b, "</Message>"...)
}

func (m receivedMessages) appendXML(b []byte) []byte {
	b = appendOpen(b, "Messages", m.NS)
	for i := range m.Messages {
		b = m.Messages[i].appendXML(b)
	}
	return append(b, "</Messages>"...)
}

func received(m *queue.Message) receivedMessage {
	r := receivedMessage{
		MessageID: m.ID, ReceiptHandle: m.Handle, MessageBodyMD5: bodyMD5(m.Body), MessageBody: string(m.Body),
		EnqueueTime: m.EnqueueTime.UnixMilli(), DequeueCount: m.DequeueCount, Priority: cmpInt(m.Priority, defaultPriority),
	}
	if !m.NextVisibleTime.IsZero() {
		r.NextVisibleTime = m.NextVisibleTime.UnixMilli()
	}
	if !m.FirstDequeueTime.IsZero() {
		r.FirstDequeueTime = m.FirstDequeueTime.UnixMilli()
	}
	return r
}

func cmpInt(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// batchCount reads numOfMessages: 0 (a single-message operation) when absent.
func (r *request) batchCount() (int, error) {
	n, err := r.query.intParam("numofmessages", "numOfMessages", 1, maxBatch, 0)
	return int(n), err
}

// messagesReply is one <Message>, or <Messages> for a batch operation.
func messagesReply(msgs []queue.Message, batch bool) reply {
	if !batch {
		m := received(&msgs[0])
		m.NS = Namespace
		return reply{status: http.StatusOK, body: &m}
	}
	out := receivedMessages{NS: Namespace, Messages: make([]receivedMessage, len(msgs))}
	for i := range msgs {
		out.Messages[i] = received(&msgs[i])
	}
	return reply{status: http.StatusOK, body: out}
}

func (s *Server) receiveMessage(ctx context.Context, req *request) (reply, error) {
	name, err := req.queueName()
	if err != nil {
		return reply{}, err
	}
	n, err := req.batchCount()
	if err != nil {
		return reply{}, err
	}
	wait, err := req.query.intParam("waitseconds", "waitseconds", 0, maxWaitSeconds, -1)
	if err != nil {
		return reply{}, err
	}
	d := time.Duration(wait) * time.Second
	if wait < 0 {
		d = -1
	}
	msgs, err := s.deps.Queues.Receive(ctx, req.appID(), name, max(n, 1), d)
	if err != nil {
		return reply{}, err
	}
	return messagesReply(msgs, n > 0), nil
}

func (s *Server) peekMessage(ctx context.Context, req *request) (reply, error) {
	name, err := req.queueName()
	if err != nil {
		return reply{}, err
	}
	n, err := req.batchCount()
	if err != nil {
		return reply{}, err
	}
	msgs, err := s.deps.Queues.Peek(ctx, req.appID(), name, max(n, 1))
	if err != nil {
		return reply{}, err
	}
	return messagesReply(msgs, n > 0), nil
}

type receiptHandlesIn struct {
	Handles []string `xml:"ReceiptHandle"`
}

// deleteError is an item of BatchDeleteMessage's partial failure.
type deleteError struct {
	XMLName       struct{} `xml:"Error"`
	ErrorCode     string   `xml:"ErrorCode"`
	ErrorMessage  string   `xml:"ErrorMessage"`
	ReceiptHandle string   `xml:"ReceiptHandle"`
}

type deleteErrors struct {
	XMLName struct{}      `xml:"Errors"`
	NS      string        `xml:"xmlns,attr"`
	Errors  []deleteError `xml:"Error"`
}

func (s *Server) deleteMessage(ctx context.Context, req *request) (reply, error) {
	name, err := req.queueName()
	if err != nil {
		return reply{}, err
	}
	if h, ok := req.query["receipthandle"]; ok || len(strings.TrimSpace(string(req.body))) == 0 {
		if h == "" {
			return reply{}, errMissingHandle
		}
		errs, err := s.deps.Queues.Delete(ctx, req.appID(), name, []string{h})
		if err != nil {
			return reply{}, err
		}
		if errs[0] != nil {
			return reply{}, errs[0]
		}
		return reply{status: http.StatusNoContent}, nil
	}
	in, ok := fastHandles(req.body)
	if !ok {
		if err := decode(req.body, "ReceiptHandles", &in); err != nil {
			return reply{}, err
		}
	}
	if len(in.Handles) == 0 || len(in.Handles) > maxBatch {
		return reply{}, errArgument.with("The count of receipt handles should between 1 and %d.", maxBatch)
	}
	errs, err := s.deps.Queues.Delete(ctx, req.appID(), name, in.Handles)
	if err != nil {
		return reply{}, err
	}
	out := deleteErrors{NS: Namespace}
	for i, e := range errs {
		if e != nil {
			wire, _ := wireError(e)
			out.Errors = append(out.Errors, deleteError{ErrorCode: wire.Code, ErrorMessage: wire.Message, ReceiptHandle: in.Handles[i]})
		}
	}
	if len(out.Errors) > 0 {
		return reply{status: http.StatusNotFound, body: out}, nil
	}
	return reply{status: http.StatusNoContent}, nil
}

type changedVisibility struct {
	XMLName         struct{} `xml:"ChangeVisibility"`
	NS              string   `xml:"xmlns,attr"`
	ReceiptHandle   string   `xml:"ReceiptHandle"`
	NextVisibleTime int64    `xml:"NextVisibleTime"`
}

func (s *Server) changeMessageVisibility(ctx context.Context, req *request) (reply, error) {
	name, err := req.queueName()
	if err != nil {
		return reply{}, err
	}
	h := req.query.get("receipthandle")
	if h == "" {
		return reply{}, errMissingHandle
	}
	if req.query.get("visibilitytimeout") == "" {
		return reply{}, errMissingVT
	}
	vt, err := req.query.intParam("visibilitytimeout", "VisibilityTimeout", 1, maxVisibility, 0)
	if err != nil {
		return reply{}, err
	}
	handle, next, err := s.deps.Queues.ChangeVisibility(ctx, req.appID(), name, h, time.Duration(vt)*time.Second)
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusOK, body: changedVisibility{NS: Namespace, ReceiptHandle: handle, NextVisibleTime: next.UnixMilli()}}, nil
}
