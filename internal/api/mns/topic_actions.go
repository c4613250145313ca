package mns

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/herald-mq/herald/internal/push"
	"github.com/herald-mq/herald/internal/topic"
)

// Topics is the topic service as the API uses it.
type Topics interface {
	CreateTopic(ctx context.Context, t topic.Topic) (topic.Topic, error)
	Topic(ctx context.Context, appID int64, name string) (topic.Topic, error)
	UpdateTopic(ctx context.Context, appID int64, name string, change func(*topic.Topic) error) error
	ListTopics(appID int64, search string, offset, limit int) (int, []topic.Topic)
	DeleteTopic(ctx context.Context, appID int64, name string) error
	Subscribe(ctx context.Context, sub topic.Subscription, max int) (topic.Subscription, error)
	Subscription(ctx context.Context, appID int64, topicName, name string) (topic.Subscription, error)
	UpdateSubscription(ctx context.Context, appID int64, topicName, name string, change func(*topic.Subscription) error) error
	Unsubscribe(ctx context.Context, appID int64, topicName, name string) error
	ListSubscriptions(ctx context.Context, appID int64, topicName, search string, offset, limit int) (int, []topic.Subscription, error)
}

// Messages is the publishing side of the topic service.
type Messages interface {
	Publish(ctx context.Context, t topic.Topic, msgs []topic.Message) ([]string, error)
	MessageCount(ctx context.Context, appID int64, topicName string) (int64, error)
	PurgeMessages(ctx context.Context, appID int64, topicName string) error
}

// Limits of topics and subscriptions (wire.md §2.5).
const (
	topicRetentionSec = 86400
	maxTagLen         = 16
	maxEndpointLen    = 500
)

// queueEndpointRE is a queue endpoint: acs:mns:{region}:{accountId}:queues/{name}.
var queueEndpointRE = regexp.MustCompile(`^acs:mns:[A-Za-z0-9-]*:[A-Za-z0-9]*:queues/([^/]+)$`)

func (r *request) topicName() (string, error) {
	name := r.names[0]
	return name, checkName(name, errTopicNameLength, errTopicName)
}

func (r *request) topicAndSubscription() (string, string, error) {
	t, err := r.topicName()
	if err != nil {
		return "", "", err
	}
	sub := r.names[1]
	return t, sub, checkName(sub, errSubNameLength, errSubName)
}

type topicAttrs struct {
	MaximumMessageSize number `xml:"MaximumMessageSize"`
	LoggingEnabled     string `xml:"LoggingEnabled"`
}

func (r *request) topicAttrs() (topicAttrs, int64, error) {
	var a topicAttrs
	if len(strings.TrimSpace(string(r.body))) != 0 {
		if err := decode(r.body, "Topic", &a); err != nil {
			return a, 0, err
		}
	}
	if _, err := boolText("LoggingEnabled", a.LoggingEnabled); err != nil {
		return a, 0, err
	}
	size, err := getNumber(a.MaximumMessageSize, "MaximumMessageSize", minMessageSize, maxMessageSize, maxMessageSize, "bytes")
	return a, size, err
}

func (s *Server) createTopic(ctx context.Context, req *request) (reply, error) {
	name, err := req.topicName()
	if err != nil {
		return reply{}, err
	}
	_, size, err := req.topicAttrs()
	if err != nil {
		return reply{}, err
	}
	_, err = s.deps.Topics.CreateTopic(ctx, topic.Topic{AppID: req.appID(), Name: name, MaxMsgSize: int(size), FilterType: topic.FilterTag})
	if errors.Is(err, topic.ErrTopicExists) {
		if have, gerr := s.deps.Topics.Topic(ctx, req.appID(), name); gerr == nil && have.MaxMsgSize == int(size) {
			return reply{status: http.StatusNoContent}, nil
		}
	}
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusCreated, location: req.url("/topics/" + name)}, nil
}

func (s *Server) setTopicAttributes(ctx context.Context, req *request) (reply, error) {
	name, err := req.topicName()
	if err != nil {
		return reply{}, err
	}
	a, size, err := req.topicAttrs()
	if err != nil {
		return reply{}, err
	}
	err = s.deps.Topics.UpdateTopic(ctx, req.appID(), name, func(t *topic.Topic) error {
		if a.MaximumMessageSize != nil {
			t.MaxMsgSize = int(size)
		}
		return nil
	})
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusNoContent}, nil
}

// topicAttributes is GetTopicAttributes's <Topic>, and with x-mns-with-meta
// an item of ListTopic.
type topicAttributes struct {
	XMLName                struct{} `xml:"Topic"`
	NS                     string   `xml:"xmlns,attr,omitempty"`
	TopicURL               string   `xml:"TopicURL,omitempty"`
	TopicName              string   `xml:"TopicName"`
	CreateTime             int64    `xml:"CreateTime"`
	LastModifyTime         int64    `xml:"LastModifyTime"`
	MaximumMessageSize     int      `xml:"MaximumMessageSize"`
	MessageRetentionPeriod int      `xml:"MessageRetentionPeriod"`
	MessageCount           int64    `xml:"MessageCount"`
	LoggingEnabled         string   `xml:"LoggingEnabled"`
}

func (s *Server) topicAttributes(ctx context.Context, appID int64, name string) (topicAttributes, error) {
	t, err := s.deps.Topics.Topic(ctx, appID, name)
	if err != nil {
		return topicAttributes{}, err
	}
	count, err := s.deps.Messages.MessageCount(ctx, appID, t.Name)
	if err != nil {
		return topicAttributes{}, err
	}
	return topicAttributes{
		TopicName: t.Name, CreateTime: t.CreateTime, LastModifyTime: t.LastModifyTime, MaximumMessageSize: t.MaxMsgSize,
		MessageRetentionPeriod: topicRetentionSec, MessageCount: count, LoggingEnabled: boolWire(false),
	}, nil
}

func (s *Server) getTopicAttributes(ctx context.Context, req *request) (reply, error) {
	name, err := req.topicName()
	if err != nil {
		return reply{}, err
	}
	a, err := s.topicAttributes(ctx, req.appID(), name)
	if err != nil {
		return reply{}, err
	}
	a.NS = Namespace
	return reply{status: http.StatusOK, body: a}, nil
}

// deleteTopic deletes the topic with its subscriptions, as MNS does (CMQ
// refuses while there are subscriptions).
func (s *Server) deleteTopic(ctx context.Context, req *request) (reply, error) {
	name, err := req.topicName()
	if err != nil {
		return reply{}, err
	}
	_, subs, err := s.deps.Topics.ListSubscriptions(ctx, req.appID(), name, "", 0, 1<<31-1)
	if err != nil {
		return reply{}, err
	}
	for _, sub := range subs {
		if err := s.deps.Topics.Unsubscribe(ctx, req.appID(), name, sub.Name); err != nil && !errors.Is(err, topic.ErrSubscriptionNotFound) {
			return reply{}, err
		}
	}
	if err := s.deps.Topics.DeleteTopic(ctx, req.appID(), name); err != nil {
		return reply{}, err
	}
	if err := s.deps.Messages.PurgeMessages(ctx, req.appID(), name); err != nil {
		s.deps.Log.Warn("deleted topic's messages not purged", "topic", name, "err", err)
	}
	return reply{status: http.StatusNoContent}, nil
}

type topicItem struct {
	XMLName  struct{} `xml:"Topic"`
	TopicURL string   `xml:"TopicURL"`
}

type topicURLList struct {
	XMLName    struct{}    `xml:"Topics"`
	NS         string      `xml:"xmlns,attr"`
	Topics     []topicItem `xml:"Topic"`
	NextMarker string      `xml:"NextMarker,omitempty"`
}

type topicList struct {
	XMLName    struct{}          `xml:"Topics"`
	NS         string            `xml:"xmlns,attr"`
	Topics     []topicAttributes `xml:"Topic"`
	NextMarker string            `xml:"NextMarker,omitempty"`
}

func (s *Server) listTopic(ctx context.Context, req *request) (reply, error) {
	l, err := req.listing()
	if err != nil {
		return reply{}, err
	}
	_, all := s.deps.Topics.ListTopics(req.appID(), "", 0, 1<<31-1)
	names := make([]string, len(all))
	for i, t := range all {
		names[i] = t.Name
	}
	page, next := l.page(names)
	if !l.withMeta {
		out := topicURLList{NS: Namespace, NextMarker: next, Topics: make([]topicItem, len(page))}
		for i, n := range page {
			out.Topics[i].TopicURL = req.url("/topics/" + n)
		}
		return reply{status: http.StatusOK, body: out}, nil
	}
	out := topicList{NS: Namespace, NextMarker: next}
	for _, n := range page {
		a, err := s.topicAttributes(ctx, req.appID(), n)
		if errors.Is(err, topic.ErrTopicNotFound) {
			continue
		}
		if err != nil {
			return reply{}, err
		}
		a.TopicURL = req.url("/topics/" + n)
		out.Topics = append(out.Topics, a)
	}
	return reply{status: http.StatusOK, body: out}, nil
}

type subscriptionIn struct {
	Endpoint            string `xml:"Endpoint"`
	FilterTag           string `xml:"FilterTag"`
	NotifyStrategy      string `xml:"NotifyStrategy"`
	NotifyContentFormat string `xml:"NotifyContentFormat"`
}

func notifyStrategy(v string) (string, error) {
	switch v = strings.ToUpper(strings.TrimSpace(v)); v {
	case "":
		return topic.BackoffRetry, nil
	case topic.BackoffRetry, topic.ExponentialDecayRetry:
		return v, nil
	}
	return "", errArgument.with("The NotifyStrategy should be BACKOFF_RETRY or EXPONENTIAL_DECAY_RETRY.")
}

func (s *Server) subscribe(ctx context.Context, req *request) (reply, error) {
	tn, sn, err := req.topicAndSubscription()
	if err != nil {
		return reply{}, err
	}
	var in subscriptionIn
	if err := decode(req.body, "Subscription", &in); err != nil {
		return reply{}, err
	}
	if _, err := s.deps.Topics.Topic(ctx, req.appID(), tn); err != nil {
		return reply{}, err
	}
	sub := topic.Subscription{AppID: req.appID(), TopicName: tn, Name: sn, Dialect: topic.DialectMNS}
	if err := s.endpoint(ctx, req, strings.TrimSpace(in.Endpoint), &sub); err != nil {
		return reply{}, err
	}
	if sub.NotifyStrategy, err = notifyStrategy(in.NotifyStrategy); err != nil {
		return reply{}, err
	}
	switch f := strings.ToUpper(strings.TrimSpace(in.NotifyContentFormat)); f {
	case "":
		sub.NotifyContentFormat = topic.FormatXML
	case topic.FormatXML, topic.FormatJSON, topic.FormatSimplified:
		sub.NotifyContentFormat = f
	default:
		return reply{}, errArgument.with("The NotifyContentFormat should be XML, JSON or SIMPLIFIED.")
	}
	if in.FilterTag != "" {
		if utf8.RuneCountInString(in.FilterTag) > maxTagLen {
			return reply{}, errArgument.with("The length of FilterTag should between 1 and %d.", maxTagLen)
		}
		sub.FilterTags = []string{in.FilterTag}
	}
	_, err = s.deps.Topics.Subscribe(ctx, sub, s.cfg.MaxSubscriptionsPerTopic)
	if errors.Is(err, topic.ErrSubscriptionExists) {
		if have, gerr := s.deps.Topics.Subscription(ctx, req.appID(), tn, sn); gerr == nil && sameSubscription(have, sub) {
			return reply{status: http.StatusNoContent}, nil
		}
	}
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusCreated, location: req.url("/topics/" + tn + "/subscriptions/" + sn)}, nil
}

func sameSubscription(a, b topic.Subscription) bool {
	return a.Endpoint == b.Endpoint && a.EndpointAsSent == b.EndpointAsSent && a.Protocol == b.Protocol &&
		a.NotifyStrategy == b.NotifyStrategy && a.NotifyContentFormat == b.NotifyContentFormat &&
		strings.Join(a.FilterTags, "\x00") == strings.Join(b.FilterTags, "\x00") && a.Dialect == b.Dialect
}

// endpoint checks a Subscribe's Endpoint and sets the subscription's
// protocol and endpoint: an http(s) URL, or a queue of the account.
func (s *Server) endpoint(ctx context.Context, req *request, ep string, sub *topic.Subscription) error {
	if ep == "" {
		return errEndpoint.with("The Endpoint is required.")
	}
	if strings.IndexFunc(ep, unicode.IsSpace) >= 0 || len(ep) > maxEndpointLen {
		return errEndpoint
	}
	if m := queueEndpointRE.FindStringSubmatch(ep); m != nil {
		if checkName(m[1], errEndpoint, errEndpoint) != nil {
			return errEndpoint
		}
		if err := s.deps.Queues.CheckQueue(ctx, req.appID(), m[1]); err != nil {
			return err
		}
		sub.Protocol, sub.ProtocolAsSent, sub.Endpoint, sub.EndpointAsSent = topic.ProtocolQueue, topic.ProtocolQueue, m[1], ep
		return nil
	}
	lower := strings.ToLower(ep)
	if !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") {
		return errEndpoint.with("The Endpoint should be an http(s) URL or acs:mns:{region}:{accountId}:queues/{name}; herald sends no mail or SMS.")
	}
	u, err := url.Parse(ep)
	if err != nil || u.Hostname() == "" || u.User != nil {
		return errEndpoint
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return errEndpoint
		}
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && !s.cfg.AllowPrivateEndpoints && push.Forbidden(ip) {
		return errEndpoint.with("The Endpoint is a loopback, private or link-local address (see --allow-private-endpoints).")
	}
	sub.Protocol, sub.ProtocolAsSent, sub.Endpoint = topic.ProtocolHTTP, topic.ProtocolHTTP, ep
	return nil
}

func (s *Server) setSubscriptionAttributes(ctx context.Context, req *request) (reply, error) {
	tn, sn, err := req.topicAndSubscription()
	if err != nil {
		return reply{}, err
	}
	var in subscriptionIn
	if err := decode(req.body, "Subscription", &in); err != nil {
		return reply{}, err
	}
	strategy, err := notifyStrategy(in.NotifyStrategy)
	if err != nil {
		return reply{}, err
	}
	err = s.deps.Topics.UpdateSubscription(ctx, req.appID(), tn, sn, func(sub *topic.Subscription) error {
		if strings.TrimSpace(in.NotifyStrategy) != "" {
			sub.NotifyStrategy = strategy
		}
		return nil
	})
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusNoContent}, nil
}

type subscriptionAttributes struct {
	XMLName             struct{} `xml:"Subscription"`
	NS                  string   `xml:"xmlns,attr"`
	SubscriptionName    string   `xml:"SubscriptionName"`
	Subscriber          string   `xml:"Subscriber"`
	TopicOwner          string   `xml:"TopicOwner"`
	TopicName           string   `xml:"TopicName"`
	Endpoint            string   `xml:"Endpoint"`
	NotifyStrategy      string   `xml:"NotifyStrategy"`
	NotifyContentFormat string   `xml:"NotifyContentFormat"`
	FilterTag           string   `xml:"FilterTag,omitempty"`
	CreateTime          int64    `xml:"CreateTime"`
	LastModifyTime      int64    `xml:"LastModifyTime"`
}

func (s *Server) getSubscriptionAttributes(ctx context.Context, req *request) (reply, error) {
	tn, sn, err := req.topicAndSubscription()
	if err != nil {
		return reply{}, err
	}
	sub, err := s.deps.Topics.Subscription(ctx, req.appID(), tn, sn)
	if err != nil {
		return reply{}, err
	}
	owner := strconv.FormatInt(sub.AppID, 10)
	return reply{status: http.StatusOK, body: subscriptionAttributes{
		NS: Namespace, SubscriptionName: sub.Name, Subscriber: owner, TopicOwner: owner, TopicName: sub.TopicName,
		Endpoint: cmpOr(sub.EndpointAsSent, sub.Endpoint), NotifyStrategy: sub.NotifyStrategy,
		NotifyContentFormat: cmpOr(sub.NotifyContentFormat, topic.FormatJSON), FilterTag: strings.Join(sub.FilterTags, ","),
		CreateTime: sub.CreateTime, LastModifyTime: sub.LastModifyTime,
	}}, nil
}

func (s *Server) unsubscribe(ctx context.Context, req *request) (reply, error) {
	tn, sn, err := req.topicAndSubscription()
	if err != nil {
		return reply{}, err
	}
	if err := s.deps.Topics.Unsubscribe(ctx, req.appID(), tn, sn); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusNoContent}, nil
}

type subscriptionItem struct {
	XMLName         struct{} `xml:"Subscription"`
	SubscriptionURL string   `xml:"SubscriptionURL"`
}

type subscriptionList struct {
	XMLName       struct{}           `xml:"Subscriptions"`
	NS            string             `xml:"xmlns,attr"`
	Subscriptions []subscriptionItem `xml:"Subscription"`
	NextMarker    string             `xml:"NextMarker,omitempty"`
}

func (s *Server) listSubscriptionByTopic(ctx context.Context, req *request) (reply, error) {
	tn, err := req.topicName()
	if err != nil {
		return reply{}, err
	}
	l, err := req.listing()
	if err != nil {
		return reply{}, err
	}
	if _, err := s.deps.Topics.Topic(ctx, req.appID(), tn); err != nil {
		return reply{}, err
	}
	_, subs, err := s.deps.Topics.ListSubscriptions(ctx, req.appID(), tn, "", 0, 1<<31-1)
	if err != nil {
		return reply{}, err
	}
	names := make([]string, len(subs))
	for i, sub := range subs {
		names[i] = sub.Name
	}
	page, next := l.page(names)
	out := subscriptionList{NS: Namespace, NextMarker: next, Subscriptions: make([]subscriptionItem, len(page))}
	for i, n := range page {
		out.Subscriptions[i].SubscriptionURL = req.url("/topics/" + tn + "/subscriptions/" + n)
	}
	return reply{status: http.StatusOK, body: out}, nil
}

type publishIn struct {
	MessageBody string `xml:"MessageBody"`
	MessageTag  string `xml:"MessageTag"`
}

// publishMessage publishes one message. A topic without a subscription the
// message matches stores nothing, and MNS answers success all the same.
func (s *Server) publishMessage(ctx context.Context, req *request) (reply, error) {
	tn, err := req.topicName()
	if err != nil {
		return reply{}, err
	}
	var in publishIn
	if err := decode(req.body, "Message", &in); err != nil {
		return reply{}, err
	}
	t, err := s.deps.Topics.Topic(ctx, req.appID(), tn)
	if err != nil {
		return reply{}, err
	}
	switch {
	case in.MessageBody == "":
		return reply{}, errEmptyMessage
	case len(in.MessageBody) > t.MaxMsgSize:
		return reply{}, errMessageTooBig
	case utf8.RuneCountInString(in.MessageTag) > maxTagLen:
		return reply{}, errArgument.with("The length of MessageTag should between 1 and %d.", maxTagLen)
	}
	msg := topic.Message{Body: []byte(in.MessageBody)}
	if in.MessageTag != "" {
		msg.Tags = []string{in.MessageTag}
	}
	ids, err := s.deps.Messages.Publish(ctx, t, []topic.Message{msg})
	if errors.Is(err, topic.ErrNoSubscription) || errors.Is(err, topic.ErrNoMatch) {
		ids, err = []string{unstoredID()}, nil
	}
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusCreated, body: sentMessage{NS: Namespace, MessageID: ids[0], MessageBodyMD5: bodyMD5(msg.Body)}}, nil
}

// unstoredID is the MessageId of a message that no subscription wanted.
func unstoredID() string { return "unrouted-" + requestID() }
