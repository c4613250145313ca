package cmq

import (
	"context"
	"strings"

	"github.com/herald-mq/herald/internal/topic"
)

// Messages is the publishing side of the topic service.
type Messages interface {
	// Publish stores the messages and returns their ids once stored.
	Publish(ctx context.Context, t topic.Topic, msgs []topic.Message) ([]string, error)
	// MessageCount is how many messages of the topic are retained.
	MessageCount(ctx context.Context, appID int64, topicName string) (int64, error)
	// PurgeMessages drops a deleted topic's messages.
	PurgeMessages(ctx context.Context, appID int64, topicName string) error
}

// Publish limits (wire.md §1.6).
const (
	maxBatch      = 16
	maxBatchBytes = 64 << 10
	maxMsgTags    = 5
	maxMsgTagLen  = 16
)

var (
	errEmptyBody      = errf(4000, 10120, "message body can't be empty")
	errBodyTooBig     = errf(4400, 10230, "exceed maximum message size")
	errBatchTooBig    = errf(4470, 10300, "total message size exceed 64KB")
	errTooManyMsgTags = errf(4000, 10720, "too many msgTag")
	errLackRouting    = errf(4000, 10700, "lack of routingKey")
	errRoutingWild    = errf(4000, 10350, "parameter routingKey must not contain * or #")
)

func (s *Server) addPublishActions() {
	s.add("PublishMessage", s.publishMessage)
	s.add("BatchPublishMessage", s.batchPublishMessage)
}

type msgIDItem struct {
	MsgID string `json:"msgId"`
}

func (s *Server) publishMessage(ctx context.Context, req *Request) (any, error) {
	t, tags, key, err := s.publishCommon(ctx, req)
	if err != nil {
		return nil, err
	}
	body, ok := req.Params.Get("msgBody")
	if !ok {
		return nil, errMissing("msgBody")
	}
	if err := checkBody(body, t.MaxMsgSize); err != nil {
		return nil, err
	}
	ids, err := s.deps.Messages.Publish(ctx, t, []topic.Message{{Body: []byte(body), Tags: tags, RoutingKey: key}})
	if err != nil {
		return nil, err
	}
	return msgIDItem{ids[0]}, nil
}

func (s *Server) batchPublishMessage(ctx context.Context, req *Request) (any, error) {
	t, tags, key, err := s.publishCommon(ctx, req)
	if err != nil {
		return nil, err
	}
	bodies, err := req.Params.List("msgBody", maxBatch, nil)
	if err != nil {
		return nil, err
	}
	if len(bodies) == 0 {
		return nil, errMissing("msgBody")
	}
	total := 0
	msgs := make([]topic.Message, len(bodies))
	for i, b := range bodies {
		if err := checkBody(b, t.MaxMsgSize); err != nil {
			return nil, err
		}
		total += len(b)
		msgs[i] = topic.Message{Body: []byte(b), Tags: tags, RoutingKey: key}
	}
	if total > maxBatchBytes {
		return nil, errBatchTooBig
	}
	ids, err := s.deps.Messages.Publish(ctx, t, msgs)
	if err != nil {
		return nil, err
	}
	return msgList(ids), nil
}

// msgListResponse is the answer of the batch sends: msgList [{msgId}].
type msgListResponse struct {
	MsgList []msgIDItem `json:"msgList"`
}

func msgList(ids []string) msgListResponse {
	items := make([]msgIDItem, len(ids))
	for i, id := range ids {
		items[i] = msgIDItem{id}
	}
	return msgListResponse{items}
}

func (m msgIDItem) appendFields(b []byte) []byte {
	b = append(b, `"msgId":`...)
	return appendJSONString(b, m.MsgID)
}

func (r msgListResponse) appendFields(b []byte) []byte {
	if r.MsgList == nil {
		return append(b, `"msgList":null`...)
	}
	b = append(b, `"msgList":[`...)
	for i, m := range r.MsgList {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		b = m.appendFields(b)
		b = append(b, '}')
	}
	return append(b, ']')
}

// publishCommon reads the topic, msgTag.n and routingKey of a publish.
func (s *Server) publishCommon(ctx context.Context, req *Request) (topic.Topic, []string, string, error) {
	name, err := topicName(req.Params)
	if err != nil {
		return topic.Topic{}, nil, "", err
	}
	t, err := s.deps.Topics.Topic(ctx, req.Account.AppID, name)
	if err != nil {
		return topic.Topic{}, nil, "", err
	}
	tags, err := req.Params.List("msgTag", maxMsgTags, errTooManyMsgTags)
	if err != nil {
		return topic.Topic{}, nil, "", err
	}
	for _, tag := range tags {
		if tag == "" || len([]rune(tag)) > maxMsgTagLen {
			return topic.Topic{}, nil, "", errRange("msgTag")
		}
	}
	key, hasKey := req.Params.Get("routingKey")
	if t.FilterType == topic.FilterRouting && !hasKey {
		return topic.Topic{}, nil, "", errLackRouting
	}
	if err := checkRoutingWords(key, "routingKey"); err != nil {
		return topic.Topic{}, nil, "", err
	}
	if strings.ContainsAny(key, "*#") {
		return topic.Topic{}, nil, "", errRoutingWild
	}
	return t, tags, key, nil
}

func checkBody(body string, max int) error {
	if body == "" {
		return errEmptyBody
	}
	if len(body) > max {
		return errBodyTooBig
	}
	return nil
}
