package cmq

import (
	"cmp"
	"context"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/herald-mq/herald/internal/delivery"
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

// Limits of topics and subscriptions (seed 002, wire.md §1.6).
const (
	maxFilterTags     = 5
	maxFilterTagLen   = 16
	maxBindingKeys    = 5
	maxKeyBytes       = 64
	maxKeyDots        = 15
	maxEndpointLen    = 500
	minTopicMsgSize   = 1024
	maxTopicMsgSize   = 1 << 20 // CMQ documents 64 KB; SDKs send up to 1 MB
	defaultTopicSize  = 65536
	topicRetentionSec = 86400
)

// nameRE is CMQ's resource name: a letter, then letters, digits, - and _.
var nameRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_-]{0,63}$`)

// Errors specific to topics and subscriptions (seed 002, wire.md §1.9).
var (
	errTopicName        = errf(4000, 10590, "topic name format error")
	errSubscriptionName = errf(4000, 10580, "subscription name format error")
	errProtocol         = errf(4000, 10510, "undefined protocol")
	errEndpointFormat   = errf(4000, 10500, "endpoint format error")
	errEndpointBlank    = errf(4510, 10570, "url connot contain any blank characters")
	errEndpointIllegal  = errf(4000, 10630, "illegal endpoint")
	errEndpointPrivate  = errf(4000, 10630, "illegal endpoint: loopback, private and link-local addresses are refused (see --allow-private-endpoints)")
	errStrategy         = errf(4000, 10520, "undefined notify retry stragety")
	errContentFormat    = errf(4000, 10530, "undefined notify content format")
	errQueueNeedsSimple = errf(4000, 10640, "notifyContentFormat of protocol queue must be SIMPLIFIED")
	errFilterTagCount   = errf(4000, 10490, "number of filterTag exceed limit")
	errTooManyTags      = errf(4000, 10670, "too many filterTag")
	errTooManyKeys      = errf(4000, 10680, "too many bindingKey")
	errTooManyBoth      = errf(6050, 10740, "too many filterTag or bindingKey")
	errLackBindingKey   = errf(4000, 10710, "parameters lack of bindingKey")
	errDelimiters       = errf(4000, 10691, "too many delimiters")
)

func (s *Server) addTopicActions() {
	s.add("CreateTopic", s.createTopic)
	s.add("SetTopicAttributes", s.setTopicAttributes)
	s.add("GetTopicAttributes", s.getTopicAttributes)
	s.add("ListTopic", s.listTopic)
	s.add("DeleteTopic", s.deleteTopic)
	s.add("Subscribe", s.subscribe)
	s.add("Unsubscribe", s.unsubscribe)
	s.add("GetSubscriptionAttributes", s.getSubscriptionAttributes)
	s.add("SetSubscriptionAttributes", s.setSubscriptionAttributes)
	s.add("ClearSubscriptionFilterTags", s.clearSubscriptionFilterTags)
	s.add("ListSubscriptionByTopic", s.listSubscriptionByTopic)
}

func topicName(p Params) (string, error) {
	name, err := p.Required("topicName")
	if err != nil {
		return "", err
	}
	if !nameRE.MatchString(name) {
		return "", errTopicName
	}
	return name, nil
}

func topicAndSubscription(p Params) (string, string, error) {
	t, err := topicName(p)
	if err != nil {
		return "", "", err
	}
	sub, err := p.Required("subscriptionName")
	if err != nil {
		return "", "", err
	}
	if !nameRE.MatchString(sub) {
		return "", "", errSubscriptionName
	}
	return t, sub, nil
}

func (s *Server) createTopic(ctx context.Context, req *Request) (any, error) {
	name, err := topicName(req.Params)
	if err != nil {
		return nil, err
	}
	size, err := req.Params.Int("maxMsgSize", minTopicMsgSize, maxTopicMsgSize, defaultTopicSize)
	if err != nil {
		return nil, err
	}
	ft, err := req.Params.Int("filterType", topic.FilterTag, topic.FilterRouting, topic.FilterTag)
	if err != nil {
		return nil, err
	}
	t, err := s.deps.Topics.CreateTopic(ctx, topic.Topic{AppID: req.Account.AppID, Name: name, MaxMsgSize: int(size), FilterType: int(ft)})
	if err != nil {
		return nil, err
	}
	return struct {
		TopicID string `json:"topicId"`
	}{t.ID}, nil
}

func (s *Server) setTopicAttributes(ctx context.Context, req *Request) (any, error) {
	name, err := topicName(req.Params)
	if err != nil {
		return nil, err
	}
	size, err := req.Params.Int("maxMsgSize", minTopicMsgSize, maxTopicMsgSize, 0)
	if err != nil {
		return nil, err
	}
	return nil, s.deps.Topics.UpdateTopic(ctx, req.Account.AppID, name, func(t *topic.Topic) error {
		if size != 0 {
			t.MaxMsgSize = int(size)
		}
		return nil
	})
}

type topicAttributes struct {
	TopicID             string `json:"topicId"`
	TopicName           string `json:"topicName"`
	MsgCount            int64  `json:"msgCount"`
	MaxMsgSize          int    `json:"maxMsgSize"`
	MsgRetentionSeconds int    `json:"msgRetentionSeconds"`
	CreateTime          int64  `json:"createTime"`
	LastModifyTime      int64  `json:"lastModifyTime"`
	FilterType          int    `json:"filterType"`
	CreateUin           int64  `json:"createUin"`
	QPS                 int    `json:"qps"`
}

func (s *Server) getTopicAttributes(ctx context.Context, req *Request) (any, error) {
	name, err := topicName(req.Params)
	if err != nil {
		return nil, err
	}
	t, err := s.deps.Topics.Topic(ctx, req.Account.AppID, name)
	if err != nil {
		return nil, err
	}
	count, err := s.deps.Messages.MessageCount(ctx, t.AppID, t.Name)
	if err != nil {
		return nil, err
	}
	return topicAttributes{
		TopicID: t.ID, TopicName: t.Name, MsgCount: count, MaxMsgSize: t.MaxMsgSize,
		MsgRetentionSeconds: topicRetentionSec, CreateTime: t.CreateTime, LastModifyTime: t.LastModifyTime,
		FilterType: t.FilterType, CreateUin: t.AppID,
	}, nil
}

// pageParams reads searchWord, offset and limit; an offset needs a limit.
func pageParams(p Params, maxOffset, maxLimit int64) (search string, offset, limit int, err error) {
	search, _ = p.Get("searchWord")
	off, err := p.Int("offset", 0, maxOffset, 0)
	if err != nil {
		return "", 0, 0, err
	}
	if _, ok := p.Get("offset"); ok {
		if _, ok := p.Get("limit"); !ok {
			return "", 0, 0, errMissing("limit")
		}
	}
	lim, err := p.Int("limit", 0, maxLimit, defaultListLimit)
	if err != nil {
		return "", 0, 0, err
	}
	return search, int(off), int(lim), nil
}

type topicListItem struct {
	TopicID   string `json:"topicId"`
	TopicName string `json:"topicName"`
}

func (s *Server) listTopic(_ context.Context, req *Request) (any, error) {
	search, offset, limit, err := pageParams(req.Params, maxListOffset, maxListLimit)
	if err != nil {
		return nil, err
	}
	total, topics := s.deps.Topics.ListTopics(req.Account.AppID, search, offset, limit)
	items := make([]topicListItem, len(topics))
	for i, t := range topics {
		items[i] = topicListItem{t.ID, t.Name}
	}
	return struct {
		TotalCount int             `json:"totalCount"`
		TopicList  []topicListItem `json:"topicList"`
	}{total, items}, nil
}

func (s *Server) deleteTopic(ctx context.Context, req *Request) (any, error) {
	name, err := topicName(req.Params)
	if err != nil {
		return nil, err
	}
	if err := s.deps.Topics.DeleteTopic(ctx, req.Account.AppID, name); err != nil {
		return nil, err
	}
	if err := s.deps.Messages.PurgeMessages(ctx, req.Account.AppID, name); err != nil {
		s.deps.Log.Warn("deleted topic's messages not purged", "topic", name, "err", err)
	}
	return nil, nil
}

func (s *Server) subscribe(ctx context.Context, req *Request) (any, error) {
	p := req.Params
	tn, sn, err := topicAndSubscription(p)
	if err != nil {
		return nil, err
	}
	t, err := s.deps.Topics.Topic(ctx, req.Account.AppID, tn)
	if err != nil {
		return nil, err
	}
	protoSent, err := p.Required("protocol")
	if err != nil {
		return nil, err
	}
	proto := strings.ToLower(protoSent)
	if proto != topic.ProtocolHTTP && proto != topic.ProtocolQueue {
		return nil, errProtocol
	}
	endpoint, err := p.Required("endpoint")
	if err != nil {
		return nil, err
	}
	if err := s.checkEndpoint(ctx, req, proto, endpoint); err != nil {
		return nil, err
	}
	strategy, err := notifyStrategy(p, topic.ExponentialDecayRetry)
	if err != nil {
		return nil, err
	}
	defFormat := topic.FormatJSON
	if proto == topic.ProtocolQueue {
		defFormat = topic.FormatSimplified
	}
	format, err := contentFormat(p, proto, defFormat)
	if err != nil {
		return nil, err
	}
	tags, keys, err := filters(p, errFilterTagCount)
	if err != nil {
		return nil, err
	}
	if t.FilterType == topic.FilterRouting && len(keys) == 0 {
		return nil, errLackBindingKey
	}
	sub := topic.Subscription{
		AppID: req.Account.AppID, TopicName: tn, Name: sn,
		Protocol: proto, ProtocolAsSent: protoSent, Endpoint: endpoint,
		NotifyStrategy: strategy, NotifyContentFormat: format,
		FilterTags: tags, BindingKeys: keys,
	}
	secret, err := webhookSecretParam(p)
	if err != nil {
		return nil, err
	}
	if err := applyExtensions(p, &sub, secret); err != nil {
		return nil, err
	}
	sub, err = s.deps.Topics.Subscribe(ctx, sub, s.cfg.MaxSubscriptionsPerTopic)
	if err != nil {
		return nil, err
	}
	return struct {
		SubscriptionID string `json:"subscriptionId"`
		WebhookSecret  string `json:"webhookSecret,omitempty"`
	}{sub.ID, first(sub.WebhookSecrets)}, nil
}

// checkEndpoint applies seed 002's endpoint rules: an http(s) URL of at most
// 500 characters without blanks, or the name of a queue.
func (s *Server) checkEndpoint(ctx context.Context, req *Request, proto, endpoint string) error {
	if strings.IndexFunc(endpoint, unicode.IsSpace) >= 0 {
		return errEndpointBlank
	}
	if proto == topic.ProtocolQueue {
		if !nameRE.MatchString(endpoint) {
			return errEndpointFormat
		}
		if s.deps.Queues != nil {
			return s.deps.Queues.CheckQueue(ctx, req.Account.AppID, endpoint)
		}
		return nil
	}
	if len(endpoint) > maxEndpointLen {
		return errEndpointFormat
	}
	lower := strings.ToLower(endpoint)
	if !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") {
		return errEndpointFormat
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || u.Hostname() == "" || u.User != nil {
		return errEndpointIllegal
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return errEndpointIllegal
		}
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && !s.cfg.AllowPrivateEndpoints && push.Forbidden(ip) {
		return errEndpointPrivate
	}
	return nil
}

func notifyStrategy(p Params, def string) (string, error) {
	v, ok := p.Get("notifyStrategy")
	if !ok || v == "" {
		return def, nil
	}
	switch v = strings.ToUpper(v); v {
	case topic.BackoffRetry, topic.ExponentialDecayRetry:
		return v, nil
	}
	return "", errStrategy
}

func contentFormat(p Params, proto, def string) (string, error) {
	v, ok := p.Get("notifyContentFormat")
	if !ok || v == "" {
		v = def
	}
	v = strings.ToUpper(v)
	switch v {
	case topic.FormatJSON, topic.FormatSimplified, topic.FormatXML:
	default:
		return "", errContentFormat
	}
	if proto == topic.ProtocolQueue && v != topic.FormatSimplified {
		return "", errQueueNeedsSimple
	}
	return v, nil
}

func filterTags(p Params, tooMany *Error) ([]string, error) {
	tags, err := p.List("filterTag", maxFilterTags, tooMany)
	if err != nil {
		return nil, err
	}
	for _, t := range tags {
		if t == "" || len([]rune(t)) > maxFilterTagLen {
			return nil, errRange("filterTag")
		}
	}
	return tags, nil
}

func bindingKeys(p Params, tooMany *Error) ([]string, error) {
	keys, err := p.List("bindingKey", maxBindingKeys, tooMany)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if err := checkRoutingWords(k, "bindingKey"); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// checkRoutingWords applies the limits shared by bindingKey and routingKey:
// at most 64 bytes and 15 dots.
func checkRoutingWords(k, name string) error {
	if len(k) > maxKeyBytes || (name == "bindingKey" && k == "") {
		return errRange(name)
	}
	if strings.Count(k, ".") > maxKeyDots {
		return errDelimiters
	}
	return nil
}

// filters reads filterTag.n and bindingKey.n, refusing more than five tags
// with tooManyTags and both given together beyond five in all (6050/10740;
// herald's reading of "too many filterTag or bindingKey").
func filters(p Params, tooManyTags *Error) (tags, keys []string, err error) {
	if tags, err = filterTags(p, tooManyTags); err != nil {
		return nil, nil, err
	}
	if keys, err = bindingKeys(p, errTooManyKeys); err != nil {
		return nil, nil, err
	}
	if len(tags) > 0 && len(keys) > 0 && len(tags)+len(keys) > maxFilterTags {
		return nil, nil, errTooManyBoth
	}
	return tags, keys, nil
}

func (s *Server) unsubscribe(ctx context.Context, req *Request) (any, error) {
	tn, sn, err := topicAndSubscription(req.Params)
	if err != nil {
		return nil, err
	}
	return nil, s.deps.Topics.Unsubscribe(ctx, req.Account.AppID, tn, sn)
}

type subscriptionAttributes struct {
	TopicOwner          string   `json:"topicOwner"`
	MsgCount            int64    `json:"msgCount"`
	Protocol            string   `json:"protocol"`
	Protocal            string   `json:"protocal"`
	Endpoint            string   `json:"endpoint"`
	NotifyStrategy      string   `json:"notifyStrategy"`
	NotifyContentFormat string   `json:"notifyContentFormat"`
	CreateTime          int64    `json:"createTime"`
	LastModifyTime      int64    `json:"lastModifyTime"`
	BindingKey          []string `json:"bindingKey"`
	FilterTag           []string `json:"filterTag"`
	FilterTags          []string `json:"filterTags"`
	SubscriptionID      string   `json:"subscriptionId"`
	SubscriptionName    string   `json:"subscriptionName"`
	TopicName           string   `json:"topicName"`
	// herald's extensions.
	Dialect                string `json:"dialect"`
	WebhookSecretCount     int    `json:"webhookSecretCount"`
	GivenUpMsgCount        int64  `json:"givenUpMsgCount"`
	SignatureRejectedCount int64  `json:"signatureRejectedCount"`
}

func first(xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return xs[0]
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

func (s *Server) getSubscriptionAttributes(ctx context.Context, req *Request) (any, error) {
	tn, sn, err := topicAndSubscription(req.Params)
	if err != nil {
		return nil, err
	}
	sub, err := s.deps.Topics.Subscription(ctx, req.Account.AppID, tn, sn)
	if err != nil {
		return nil, err
	}
	var counts delivery.Counts
	if s.deps.Stats != nil {
		if counts, err = s.deps.Stats.Counts(ctx, sub); err != nil {
			return nil, err
		}
	}
	var waiting int64
	if s.deps.Backlog != nil {
		if waiting, err = s.deps.Backlog.Waiting(ctx, sub.ID); err != nil {
			return nil, err
		}
	}
	return subscriptionAttributes{
		TopicOwner: strconv.FormatInt(sub.AppID, 10), MsgCount: waiting, Protocol: sub.ProtocolAsSent, Protocal: sub.ProtocolAsSent,
		Endpoint: sub.Endpoint, NotifyStrategy: sub.NotifyStrategy, NotifyContentFormat: sub.NotifyContentFormat,
		CreateTime: sub.CreateTime, LastModifyTime: sub.LastModifyTime,
		BindingKey: nonNil(sub.BindingKeys), FilterTag: nonNil(sub.FilterTags), FilterTags: nonNil(sub.FilterTags),
		SubscriptionID: sub.ID, SubscriptionName: sub.Name, TopicName: sub.TopicName,
		Dialect: cmp.Or(sub.Dialect, topic.DialectCMQ), WebhookSecretCount: len(sub.WebhookSecrets),
		GivenUpMsgCount: counts.GivenUp, SignatureRejectedCount: counts.SignatureRejected,
	}, nil
}

func (s *Server) setSubscriptionAttributes(ctx context.Context, req *Request) (any, error) {
	p := req.Params
	tn, sn, err := topicAndSubscription(p)
	if err != nil {
		return nil, err
	}
	t, err := s.deps.Topics.Topic(ctx, req.Account.AppID, tn)
	if err != nil {
		return nil, err
	}
	strategy, err := notifyStrategy(p, "")
	if err != nil {
		return nil, err
	}
	tags, keys, err := filters(p, errTooManyTags)
	if err != nil {
		return nil, err
	}
	secret, err := webhookSecretParam(p)
	if err != nil {
		return nil, err
	}
	err = s.deps.Topics.UpdateSubscription(ctx, req.Account.AppID, tn, sn, func(sub *topic.Subscription) error {
		format, err := contentFormat(p, sub.Protocol, sub.NotifyContentFormat)
		if err != nil {
			return err
		}
		sub.NotifyContentFormat = format
		if err := applyExtensions(p, sub, secret); err != nil {
			return err
		}
		if strategy != "" {
			sub.NotifyStrategy = strategy
		}
		if tags != nil {
			sub.FilterTags = tags
		}
		if keys != nil {
			sub.BindingKeys = keys
		}
		if t.FilterType == topic.FilterRouting && len(sub.BindingKeys) == 0 {
			return errLackBindingKey
		}
		return nil
	})
	if err != nil || secret == "" {
		return nil, err
	}
	return struct {
		WebhookSecret string `json:"webhookSecret"`
	}{secret}, nil
}

func (s *Server) clearSubscriptionFilterTags(ctx context.Context, req *Request) (any, error) {
	tn, sn, err := topicAndSubscription(req.Params)
	if err != nil {
		return nil, err
	}
	return nil, s.deps.Topics.UpdateSubscription(ctx, req.Account.AppID, tn, sn, func(sub *topic.Subscription) error {
		sub.FilterTags = nil
		return nil
	})
}

type subscriptionListItem struct {
	SubscriptionID   string `json:"subscriptionId"`
	SubscriptionName string `json:"subscriptionName"`
	Protocol         string `json:"protocol"`
	Endpoint         string `json:"endpoint"`
}

func (s *Server) listSubscriptionByTopic(ctx context.Context, req *Request) (any, error) {
	tn, err := topicName(req.Params)
	if err != nil {
		return nil, err
	}
	search, offset, limit, err := pageParams(req.Params, maxSubscriptionOffset, maxSubscriptionLimit)
	if err != nil {
		return nil, err
	}
	total, subs, err := s.deps.Topics.ListSubscriptions(ctx, req.Account.AppID, tn, search, offset, limit)
	if err != nil {
		return nil, err
	}
	items := make([]subscriptionListItem, len(subs))
	for i, sub := range subs {
		items[i] = subscriptionListItem{sub.ID, sub.Name, sub.ProtocolAsSent, sub.Endpoint}
	}
	return struct {
		TotalCount       int                    `json:"totalCount"`
		SubscriptionList []subscriptionListItem `json:"subscriptionList"`
	}{total, items}, nil
}
