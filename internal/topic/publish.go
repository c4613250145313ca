package topic

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Stream and subjects of topic messages.
const (
	// MessageStream holds every published message for one day.
	MessageStream = "HERALD_MESSAGES"
	// SubjectPrefix starts a message's subject: herald.msg.<appid>.<topic>.
	SubjectPrefix = "herald.msg."
	// Retention is how long a topic message lives (CMQ: one day).
	Retention = 24 * time.Hour
)

// Headers of a stored message.
const (
	// HeaderMsgID is the message id. It is not JetStream's Nats-Msg-Id:
	// herald makes a new id for every publish, so the engine's duplicate
	// check would cost on every message and catch nothing.
	HeaderMsgID = "Herald-Msg-Id"
	HeaderTags  = "Herald-Tags"
	// HeaderIndexRev is "<topic bucket revision>.<subscription bucket
	// revision>" of the publishing process's index: the fan-out waits for its
	// own index to be as recent before deciding who gets the message.
	HeaderIndexRev   = "Herald-Index-Rev"
	HeaderRoutingKey = "Herald-Routing-Key"
)

// Message is one message to publish.
type Message struct {
	Body       []byte
	Tags       []string
	RoutingKey string
}

// StreamConfig is the message stream's configuration.
func StreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        MessageStream,
		Description: "herald topic messages",
		Subjects:    []string{SubjectPrefix + ">"},
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      Retention,
		Discard:     jetstream.DiscardOld,
	}
}

// Subject is the subject a topic's messages are stored under.
func Subject(appID int64, topicName string) string {
	return SubjectPrefix + strconv.FormatInt(appID, 10) + "." + topicName
}

// ParseSubject splits a message subject into APPID and topic name.
func ParseSubject(subject string) (int64, string, bool) {
	rest, ok := strings.CutPrefix(subject, SubjectPrefix)
	if !ok {
		return 0, "", false
	}
	app, name, ok := strings.Cut(rest, ".")
	if !ok {
		return 0, "", false
	}
	id, err := strconv.ParseInt(app, 10, 64)
	return id, name, err == nil
}

// Publisher stores messages of topics that have a matching subscription.
type Publisher struct {
	store *Store
	js    jetstream.JetStream
}

// NewPublisher returns a publisher over the store and JetStream, creating
// the message stream if needed.
func NewPublisher(ctx context.Context, store *Store, js jetstream.JetStream, stream func(context.Context, jetstream.StreamConfig) (jetstream.Stream, error)) (*Publisher, error) {
	if _, err := stream(ctx, StreamConfig()); err != nil {
		return nil, err
	}
	return &Publisher{store: store, js: js}, nil
}

// Publish stores msgs on the topic and returns their message ids, in order,
// once the engine has acknowledged every one. A topic without subscriptions
// refuses with ErrNoSubscription, and a batch of which no message matches any
// subscription with ErrNoMatch.
func (p *Publisher) Publish(ctx context.Context, t Topic, msgs []Message) ([]string, error) {
	subs := p.store.Subscriptions(t.AppID, t.Name)
	if len(subs) == 0 {
		return nil, ErrNoSubscription
	}
	if !anyMatch(t.FilterType, subs, msgs) {
		return nil, ErrNoMatch
	}
	subject := Subject(t.AppID, t.Name)
	topicRev, subRev := p.store.Revisions()
	indexRev := strconv.FormatUint(topicRev, 10) + "." + strconv.FormatUint(subRev, 10)
	ids := make([]string, len(msgs))
	acks := make([]jetstream.PubAckFuture, len(msgs))
	for i, m := range msgs {
		ids[i] = NewMessageID()
		nm := &nats.Msg{Subject: subject, Data: m.Body, Header: nats.Header{}}
		nm.Header.Set(HeaderMsgID, ids[i])
		nm.Header.Set(HeaderIndexRev, indexRev)
		if len(m.Tags) > 0 {
			tags, _ := json.Marshal(m.Tags)
			nm.Header.Set(HeaderTags, string(tags))
		}
		if m.RoutingKey != "" {
			nm.Header.Set(HeaderRoutingKey, m.RoutingKey)
		}
		f, err := p.js.PublishMsgAsync(nm)
		if err != nil {
			return nil, fmt.Errorf("topic: publish: %w", err)
		}
		acks[i] = f
	}
	for _, f := range acks {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return nil, fmt.Errorf("topic: publish not stored: %w", err)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return ids, nil
}

func anyMatch(filterType int, subs []*Subscription, msgs []Message) bool {
	for _, m := range msgs {
		for _, s := range subs {
			if Matches(filterType, s, m.Tags, m.RoutingKey) {
				return true
			}
		}
	}
	return false
}

// MessageCount is how many of a topic's messages the engine retains.
func (p *Publisher) MessageCount(ctx context.Context, appID int64, topicName string) (int64, error) {
	s, err := p.js.Stream(ctx, MessageStream)
	if err != nil {
		return 0, fmt.Errorf("topic: message stream: %w", err)
	}
	subject := Subject(appID, topicName)
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return 0, fmt.Errorf("topic: message count: %w", err)
	}
	return int64(info.State.Subjects[subject]), nil
}

// PurgeMessages drops a deleted topic's messages.
func (p *Publisher) PurgeMessages(ctx context.Context, appID int64, topicName string) error {
	s, err := p.js.Stream(ctx, MessageStream)
	if err != nil {
		return err
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(Subject(appID, topicName))); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("topic: purge: %w", err)
	}
	return nil
}

// NewMessageID is 32 upper-case hex characters, the shape of MNS message ids,
// which CMQ clients take as an opaque string too.
func NewMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// DecodeIndexRev reads the index revisions a message was published at
// (zeros when absent).
func DecodeIndexRev(h nats.Header) (topics, subs uint64) {
	t, s, _ := strings.Cut(h.Get(HeaderIndexRev), ".")
	topics, _ = strconv.ParseUint(t, 10, 64)
	subs, _ = strconv.ParseUint(s, 10, 64)
	return topics, subs
}

// DecodeTags reads the tags header of a stored message.
func DecodeTags(h nats.Header) []string {
	v := h.Get(HeaderTags)
	if v == "" {
		return nil
	}
	var tags []string
	if err := json.Unmarshal([]byte(v), &tags); err != nil {
		return nil
	}
	return tags
}
