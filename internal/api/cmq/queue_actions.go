package cmq

import (
	"context"
	"strconv"
	"time"

	"github.com/herald-mq/herald/internal/queue"
)

// Queues is the queue service as the API uses it.
type Queues interface {
	// CheckQueue reports whether the account has the queue (Subscribe with
	// protocol=queue).
	CheckQueue(ctx context.Context, appID int64, name string) error
	CreateQueue(ctx context.Context, q queue.Queue) (queue.Queue, error)
	UpdateQueue(ctx context.Context, appID int64, name string, change func(*queue.Queue) error) (queue.Queue, error)
	DeleteQueue(ctx context.Context, appID int64, name string) error
	ListQueues(appID int64, search string, offset, limit int) (int, []queue.Queue)
	Stats(ctx context.Context, appID int64, name string) (queue.Queue, queue.Stats, error)
	Rewind(ctx context.Context, appID int64, name string, start time.Time) error
	Send(ctx context.Context, appID int64, name string, bodies [][]byte, delay time.Duration) ([]string, error)
	Receive(ctx context.Context, appID int64, name string, n int, wait time.Duration) ([]queue.Message, error)
	Delete(ctx context.Context, appID int64, name string, handles []string) ([]error, error)
}

// Errors specific to queues (wire.md §1.5, §1.9).
var (
	errQueueName         = errf(4000, 10020, "queue name format error")
	errDelayRange        = errf(4000, 10692, "delay seconds is out of range")
	errQueueBatchTooBig  = errf(4470, 10300, "total message size exceed 1MB")
	errRewindOverRetain  = errf(4000, 10700, "rewindSeconds is larger than msgRetentionSeconds")
	errBatchDeletePart   = errf(6010, 10150, "delete message partially failed")
	errBatchDeleteFailed = errf(6020, 10290, "batch delete failed")
)

// maxQueueBatchBytes bounds the bodies of one BatchSendMessage.
const maxQueueBatchBytes = 1 << 20

func (s *Server) addQueueActions() {
	s.add("CreateQueue", s.createQueue)
	s.add("SetQueueAttributes", s.setQueueAttributes)
	s.add("GetQueueAttributes", s.getQueueAttributes)
	s.add("ListQueue", s.listQueue)
	s.add("DeleteQueue", s.deleteQueue)
	s.add("RewindQueue", s.rewindQueue)
	s.add("SendMessage", s.sendMessage)
	s.add("BatchSendMessage", s.batchSendMessage)
	s.add("ReceiveMessage", s.receiveMessage)
	s.add("BatchReceiveMessage", s.batchReceiveMessage)
	s.add("DeleteMessage", s.deleteMessage)
	s.add("BatchDeleteMessage", s.batchDeleteMessage)
}

func queueName(p Params) (string, error) {
	name, err := p.Required("queueName")
	if err != nil {
		return "", err
	}
	if !nameRE.MatchString(name) {
		return "", errQueueName
	}
	return name, nil
}

// queueAttributes reads the attributes CreateQueue and SetQueueAttributes
// take into q; absent ones leave q as it is.
func queueAttributes(p Params, q *queue.Queue) error {
	ints := []struct {
		name string
		r    queue.Range
		set  func(int64)
	}{
		{"maxMsgHeapNum", queue.RangeMaxMsgHeapNum, func(v int64) { q.MaxMsgHeapNum = v }},
		{"pollingWaitSeconds", queue.RangePollingWaitSeconds, func(v int64) { q.PollingWaitSeconds = int(v) }},
		{"visibilityTimeout", queue.RangeVisibilityTimeout, func(v int64) { q.VisibilityTimeout = int(v) }},
		{"maxMsgSize", queue.RangeMaxMsgSize, func(v int64) { q.MaxMsgSize = int(v) }},
		{"msgRetentionSeconds", queue.RangeMsgRetentionSeconds, func(v int64) { q.MsgRetentionSeconds = int(v) }},
		{"rewindSeconds", queue.RangeRewindSeconds, func(v int64) { q.RewindSeconds = int(v) }},
		{"maxReceiveCount", queue.RangeMaxReceiveCount, func(v int64) { q.MaxReceiveCount = int(v) }},
	}
	for _, a := range ints {
		if _, ok := p.Get(a.name); !ok {
			continue
		}
		v, err := p.Int(a.name, a.r.Min, a.r.Max, 0)
		if err != nil {
			return err
		}
		a.set(v)
	}
	if dl, ok := p.Get("deadLetterQueueName"); ok {
		if dl != "" && !nameRE.MatchString(dl) {
			return errQueueName
		}
		q.DeadLetterQueue = dl
	}
	if q.DeadLetterQueue != "" && q.MaxReceiveCount == 0 {
		return errMissing("maxReceiveCount")
	}
	return nil
}

func (s *Server) createQueue(ctx context.Context, req *Request) (any, error) {
	name, err := queueName(req.Params)
	if err != nil {
		return nil, err
	}
	q := queue.Queue{AppID: req.Account.AppID, Name: name}
	if err := queueAttributes(req.Params, &q); err != nil {
		return nil, err
	}
	if q.RewindSeconds > q.WithDefaults().MsgRetentionSeconds {
		return nil, errRewindOverRetain
	}
	created, err := s.deps.Queues.CreateQueue(ctx, q)
	if err != nil {
		return nil, err
	}
	return struct {
		QueueID string `json:"queueId"`
	}{created.ID}, nil
}

func (s *Server) setQueueAttributes(ctx context.Context, req *Request) (any, error) {
	name, err := queueName(req.Params)
	if err != nil {
		return nil, err
	}
	_, err = s.deps.Queues.UpdateQueue(ctx, req.Account.AppID, name, func(q *queue.Queue) error {
		return queueAttributes(req.Params, q)
	})
	return nil, err
}

// queueAttributesResponse is GetQueueAttributes: every field, always, as
// numbers (NETkiddy's client type-asserts them).
type queueAttributesResponse struct {
	QueueID             string `json:"queueId"`
	QueueName           string `json:"queueName"`
	MaxMsgHeapNum       int64  `json:"maxMsgHeapNum"`
	PollingWaitSeconds  int    `json:"pollingWaitSeconds"`
	VisibilityTimeout   int    `json:"visibilityTimeout"`
	MaxMsgSize          int    `json:"maxMsgSize"`
	MsgRetentionSeconds int    `json:"msgRetentionSeconds"`
	CreateTime          int64  `json:"createTime"`
	LastModifyTime      int64  `json:"lastModifyTime"`
	ActiveMsgNum        int64  `json:"activeMsgNum"`
	InactiveMsgNum      int64  `json:"inactiveMsgNum"`
	DelayMsgNum         int64  `json:"delayMsgNum"`
	RewindSeconds       int    `json:"rewindSeconds"`
	RewindMsgNum        int64  `json:"rewindMsgNum"`
	// RewindMsgNumPython is the same count under the key the Python SDK reads.
	RewindMsgNumPython  int64  `json:"rewindmsgNum"`
	MinMsgTime          int64  `json:"minMsgTime"`
	DeadLetterQueueName string `json:"deadLetterQueueName"`
	MaxReceiveCount     int    `json:"maxReceiveCount"`
}

func (s *Server) getQueueAttributes(ctx context.Context, req *Request) (any, error) {
	name, err := queueName(req.Params)
	if err != nil {
		return nil, err
	}
	q, st, err := s.deps.Queues.Stats(ctx, req.Account.AppID, name)
	if err != nil {
		return nil, err
	}
	var minTime int64
	if !st.MinMsgTime.IsZero() {
		minTime = st.MinMsgTime.Unix()
	}
	return queueAttributesResponse{
		QueueID: q.ID, QueueName: q.Name, MaxMsgHeapNum: q.MaxMsgHeapNum, PollingWaitSeconds: q.PollingWaitSeconds,
		VisibilityTimeout: q.VisibilityTimeout, MaxMsgSize: q.MaxMsgSize, MsgRetentionSeconds: q.MsgRetentionSeconds,
		CreateTime: q.CreateTime, LastModifyTime: q.LastModifyTime,
		ActiveMsgNum: st.Active, InactiveMsgNum: st.Inactive, DelayMsgNum: st.Delayed,
		RewindSeconds: q.RewindSeconds, RewindMsgNum: st.Rewindable, RewindMsgNumPython: st.Rewindable,
		MinMsgTime: minTime, DeadLetterQueueName: q.DeadLetterQueue, MaxReceiveCount: q.MaxReceiveCount,
	}, nil
}

type queueListItem struct {
	QueueID   string `json:"queueId"`
	QueueName string `json:"queueName"`
}

func (s *Server) listQueue(_ context.Context, req *Request) (any, error) {
	search, offset, limit, err := pageParams(req.Params, maxListOffset, maxListLimit)
	if err != nil {
		return nil, err
	}
	total, queues := s.deps.Queues.ListQueues(req.Account.AppID, search, offset, limit)
	items := make([]queueListItem, len(queues))
	for i, q := range queues {
		items[i] = queueListItem{q.ID, q.Name}
	}
	return struct {
		TotalCount int             `json:"totalCount"`
		QueueList  []queueListItem `json:"queueList"`
	}{total, items}, nil
}

func (s *Server) deleteQueue(ctx context.Context, req *Request) (any, error) {
	name, err := queueName(req.Params)
	if err != nil {
		return nil, err
	}
	return nil, s.deps.Queues.DeleteQueue(ctx, req.Account.AppID, name)
}

func (s *Server) rewindQueue(ctx context.Context, req *Request) (any, error) {
	name, err := queueName(req.Params)
	if err != nil {
		return nil, err
	}
	start, err := req.Params.RequiredInt("startConsumeTime", 0, maxStartConsumeTime)
	if err != nil {
		return nil, err
	}
	return nil, s.deps.Queues.Rewind(ctx, req.Account.AppID, name, time.Unix(start, 0))
}

// delaySeconds reads delaySeconds; out of range is 10692, not the common
// range error.
func delaySeconds(p Params) (time.Duration, error) {
	v, ok := p.Get("delaySeconds")
	if !ok || v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, errType("delaySeconds")
	}
	if n < queue.RangeDelaySeconds.Min || n > queue.RangeDelaySeconds.Max {
		return 0, errDelayRange
	}
	return time.Duration(n) * time.Second, nil
}

func (s *Server) sendMessage(ctx context.Context, req *Request) (any, error) {
	name, err := queueName(req.Params)
	if err != nil {
		return nil, err
	}
	body, ok := req.Params.Get("msgBody")
	if !ok {
		return nil, errMissing("msgBody")
	}
	delay, err := delaySeconds(req.Params)
	if err != nil {
		return nil, err
	}
	ids, err := s.deps.Queues.Send(ctx, req.Account.AppID, name, [][]byte{[]byte(body)}, delay)
	if err != nil {
		return nil, err
	}
	return msgIDItem{ids[0]}, nil
}

func (s *Server) batchSendMessage(ctx context.Context, req *Request) (any, error) {
	name, err := queueName(req.Params)
	if err != nil {
		return nil, err
	}
	list, err := req.Params.List("msgBody", queue.MaxBatch, nil)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, errMissing("msgBody")
	}
	delay, err := delaySeconds(req.Params)
	if err != nil {
		return nil, err
	}
	total := 0
	bodies := make([][]byte, len(list))
	for i, b := range list {
		total += len(b)
		bodies[i] = []byte(b)
	}
	if total > maxQueueBatchBytes {
		return nil, errQueueBatchTooBig
	}
	ids, err := s.deps.Queues.Send(ctx, req.Account.AppID, name, bodies, delay)
	if err != nil {
		return nil, err
	}
	return msgList(ids), nil
}

// receivedMessage is one message of (Batch)ReceiveMessage; times are Unix
// seconds and every field is always present.
type receivedMessage struct {
	MsgBody          string `json:"msgBody"`
	MsgID            string `json:"msgId"`
	ReceiptHandle    string `json:"receiptHandle"`
	EnqueueTime      int64  `json:"enqueueTime"`
	NextVisibleTime  int64  `json:"nextVisibleTime"`
	FirstDequeueTime int64  `json:"firstDequeueTime"`
	DequeueCount     int    `json:"dequeueCount"`
}

func received(m queue.Message) receivedMessage {
	return receivedMessage{
		MsgBody: string(m.Body), MsgID: m.ID, ReceiptHandle: m.Handle,
		EnqueueTime: m.EnqueueTime.Unix(), NextVisibleTime: m.NextVisibleTime.Unix(),
		FirstDequeueTime: m.FirstDequeueTime.Unix(), DequeueCount: m.DequeueCount,
	}
}

// receive reads pollingWaitSeconds (absent: the queue's) and receives.
func (s *Server) receive(ctx context.Context, req *Request, n int) ([]queue.Message, error) {
	name, err := queueName(req.Params)
	if err != nil {
		return nil, err
	}
	r := queue.RangePollingWaitSeconds
	wait, err := req.Params.Int("pollingWaitSeconds", r.Min, r.Max, -1)
	if err != nil {
		return nil, err
	}
	d := time.Duration(wait) * time.Second
	if wait < 0 {
		d = -1
	}
	return s.deps.Queues.Receive(ctx, req.Account.AppID, name, n, d)
}

func (s *Server) receiveMessage(ctx context.Context, req *Request) (any, error) {
	msgs, err := s.receive(ctx, req, 1)
	if err != nil {
		return nil, err
	}
	return received(msgs[0]), nil
}

func (s *Server) batchReceiveMessage(ctx context.Context, req *Request) (any, error) {
	n, err := req.Params.RequiredInt("numOfMsg", 1, queue.MaxBatch)
	if err != nil {
		return nil, err
	}
	msgs, err := s.receive(ctx, req, int(n))
	if err != nil {
		return nil, err
	}
	items := make([]receivedMessage, len(msgs))
	for i, m := range msgs {
		items[i] = received(m)
	}
	return struct {
		MsgInfoList []receivedMessage `json:"msgInfoList"`
	}{items}, nil
}

func (s *Server) deleteMessage(ctx context.Context, req *Request) (any, error) {
	name, err := queueName(req.Params)
	if err != nil {
		return nil, err
	}
	handle, err := req.Params.Required("receiptHandle")
	if err != nil {
		return nil, err
	}
	errs, err := s.deps.Queues.Delete(ctx, req.Account.AppID, name, []string{handle})
	if err != nil {
		return nil, err
	}
	return nil, errs[0]
}

type deleteFailure struct {
	Code          int    `json:"code"`
	Message       string `json:"message"`
	ReceiptHandle string `json:"receiptHandle"`
}

// batchDeleteMessage answers 6010 with errorList when some handles failed
// and 6020 when all did.
func (s *Server) batchDeleteMessage(ctx context.Context, req *Request) (any, error) {
	name, err := queueName(req.Params)
	if err != nil {
		return nil, err
	}
	handles, err := req.Params.List("receiptHandle", queue.MaxBatch, nil)
	if err != nil {
		return nil, err
	}
	if len(handles) == 0 {
		return nil, errMissing("receiptHandle")
	}
	errs, err := s.deps.Queues.Delete(ctx, req.Account.AppID, name, handles)
	if err != nil {
		return nil, err
	}
	var failed []deleteFailure
	for i, e := range errs {
		if e == nil {
			continue
		}
		w, unexpected := wireError(e)
		if unexpected {
			s.deps.Log.Error("cmq: delete message", "requestId", req.RequestID, "err", e)
		}
		failed = append(failed, deleteFailure{Code: w.Code, Message: w.Error(), ReceiptHandle: handles[i]})
	}
	resp := struct {
		ErrorList []deleteFailure `json:"errorList"`
	}{failed}
	switch len(failed) {
	case 0:
		return nil, nil
	case len(handles):
		return resp, errBatchDeleteFailed
	default:
		return resp, errBatchDeletePart
	}
}
