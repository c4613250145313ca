package topic

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/engine/kv"
)

// Bucket names.
const (
	TopicBucket        = "herald_topics"
	SubscriptionBucket = "herald_subscriptions"
)

// MaxTopicsPerAccount is CMQ's limit (4450/10610).
const MaxTopicsPerAccount = 1000

// Store keeps topics and subscriptions.
type Store struct {
	topics *kv.Bucket
	subs   *kv.Bucket
	clk    clock.Clock
	log    *slog.Logger
	idx    *index
}

// OpenStore opens the store over its two buckets and starts following them.
// It returns once the index holds everything stored so far.
func OpenStore(ctx context.Context, topics, subs *kv.Bucket, clk clock.Clock, log *slog.Logger) (*Store, error) {
	s := &Store{topics: topics, subs: subs, clk: clk, log: log, idx: newIndex()}
	var err error
	s.idx.topicF, err = kv.Follow(ctx, topics, func(e kv.Entry) { s.idx.applyTopic(e, log) })
	if err != nil {
		return nil, fmt.Errorf("topic: follow topics: %w", err)
	}
	s.idx.subF, err = kv.Follow(ctx, subs, func(e kv.Entry) { s.idx.applySub(e, log) })
	if err != nil {
		s.idx.topicF.Close()
		return nil, fmt.Errorf("topic: follow subscriptions: %w", err)
	}
	return s, nil
}

// Close stops following the buckets.
func (s *Store) Close() {
	s.idx.topicF.Close()
	s.idx.subF.Close()
}

func topicKey(appID int64, name string) string {
	return strconv.FormatInt(appID, 10) + "." + name
}

func subKey(appID int64, topicName, name string) string {
	return topicKey(appID, topicName) + "." + name
}

// CreateTopic stores a new topic.
func (s *Store) CreateTopic(ctx context.Context, t Topic) (Topic, error) {
	if s.idx.topicCount(t.AppID) >= MaxTopicsPerAccount {
		return Topic{}, ErrTopicLimit
	}
	now := s.clk.Now().Unix()
	t.ID = "topic-" + randomID()
	t.CreateTime, t.LastModifyTime = now, now
	b, _ := json.Marshal(t)
	rev, err := s.topics.Create(ctx, topicKey(t.AppID, t.Name), b)
	if errors.Is(err, kv.ErrKeyExists) {
		return Topic{}, ErrTopicExists
	}
	if err != nil {
		return Topic{}, fmt.Errorf("topic: create: %w", err)
	}
	return t, s.idx.waitTopic(ctx, rev)
}

// Topic returns one topic, from the index when it is there (the publish
// path), else from the bucket.
func (s *Store) Topic(ctx context.Context, appID int64, name string) (Topic, error) {
	if t, ok := s.idx.topic(topicKey(appID, name)); ok {
		return t, nil
	}
	return s.topicFromBucket(ctx, appID, name)
}

func (s *Store) topicFromBucket(ctx context.Context, appID int64, name string) (Topic, error) {
	e, err := s.topics.Get(ctx, topicKey(appID, name))
	if errors.Is(err, kv.ErrKeyNotFound) {
		return Topic{}, ErrTopicNotFound
	}
	if err != nil {
		return Topic{}, fmt.Errorf("topic: get: %w", err)
	}
	var t Topic
	if err := json.Unmarshal(e.Value, &t); err != nil {
		return Topic{}, fmt.Errorf("topic: decode %s: %w", e.Key, err)
	}
	return t, nil
}

// UpdateTopic changes a topic with compare-and-set.
func (s *Store) UpdateTopic(ctx context.Context, appID int64, name string, change func(*Topic) error) error {
	rev, err := update(ctx, s.topics, topicKey(appID, name), ErrTopicNotFound, func(t *Topic) error {
		if err := change(t); err != nil {
			return err
		}
		t.LastModifyTime = s.clk.Now().Unix()
		return nil
	})
	if err != nil {
		return err
	}
	return s.idx.waitTopic(ctx, rev)
}

// update reads the JSON record at key, changes it and writes it back if no
// one else wrote it meanwhile, else starts over; it returns the new revision.
func update[T any](ctx context.Context, b *kv.Bucket, key string, notFound error, change func(*T) error) (uint64, error) {
	for {
		e, err := b.Get(ctx, key)
		if errors.Is(err, kv.ErrKeyNotFound) {
			return 0, notFound
		}
		if err != nil {
			return 0, fmt.Errorf("topic: get %s: %w", key, err)
		}
		var v T
		if err := json.Unmarshal(e.Value, &v); err != nil {
			return 0, fmt.Errorf("topic: decode %s: %w", key, err)
		}
		if err := change(&v); err != nil {
			return 0, err
		}
		enc, _ := json.Marshal(v)
		rev, err := b.Update(ctx, key, enc, e.Revision)
		if errors.Is(err, kv.ErrWrongRevision) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("topic: update %s: %w", key, err)
		}
		return rev, nil
	}
}

// ListTopics returns the account's topics whose names contain search, sorted
// by name, from offset, at most limit, and how many match in all.
func (s *Store) ListTopics(appID int64, search string, offset, limit int) (int, []Topic) {
	all := s.idx.topicsOf(appID, search)
	return len(all), page(all, offset, limit)
}

// DeleteTopic removes a topic that has no subscriptions.
func (s *Store) DeleteTopic(ctx context.Context, appID int64, name string) error {
	if _, err := s.topicFromBucket(ctx, appID, name); err != nil {
		return err
	}
	n, err := s.countSubscriptions(ctx, appID, name)
	if err != nil {
		return err
	}
	if n > 0 {
		return ErrTopicHasSubscription
	}
	if err := s.topics.Delete(ctx, topicKey(appID, name)); err != nil {
		return fmt.Errorf("topic: delete: %w", err)
	}
	return s.idx.waitTopicGone(ctx, appID, name)
}

// countSubscriptions reads the bucket, not the index, so that the answer does
// not depend on how far this process has followed other processes' writes.
func (s *Store) countSubscriptions(ctx context.Context, appID int64, topicName string) (int, error) {
	keys, err := s.subs.Keys(ctx, subKey(appID, topicName, "*"))
	if err != nil {
		return 0, fmt.Errorf("topic: list subscriptions: %w", err)
	}
	return len(keys), nil
}

// Subscribe stores a new subscription on an existing topic, refusing more
// than max subscriptions on the topic.
func (s *Store) Subscribe(ctx context.Context, sub Subscription, max int) (Subscription, error) {
	if _, err := s.Topic(ctx, sub.AppID, sub.TopicName); err != nil {
		return Subscription{}, err
	}
	// The index, not the bucket: counting keys in the bucket costs as much as
	// the topic has subscriptions. With several processes subscribing to one
	// topic at the same instant the limit can be passed by the few whose
	// writes the index has not seen yet.
	if len(s.idx.subscriptions(topicKey(sub.AppID, sub.TopicName))) >= max {
		return Subscription{}, ErrSubscriptionLimit
	}
	now := s.clk.Now().Unix()
	sub.ID = "subscription-" + randomID()
	sub.CreateTime, sub.LastModifyTime = now, now
	b, _ := json.Marshal(sub)
	key := subKey(sub.AppID, sub.TopicName, sub.Name)
	rev, err := s.subs.Create(ctx, key, b)
	if errors.Is(err, kv.ErrKeyExists) {
		return Subscription{}, ErrSubscriptionExists
	}
	if err != nil {
		return Subscription{}, fmt.Errorf("topic: subscribe: %w", err)
	}
	// A DeleteTopic racing with us may have checked before our write: if the
	// topic is gone now, take the subscription back.
	if _, err := s.topicFromBucket(ctx, sub.AppID, sub.TopicName); err != nil {
		_ = s.subs.Delete(ctx, key)
		return Subscription{}, err
	}
	return sub, s.idx.waitSub(ctx, rev)
}

// Subscription returns one subscription.
func (s *Store) Subscription(ctx context.Context, appID int64, topicName, name string) (Subscription, error) {
	if _, err := s.Topic(ctx, appID, topicName); err != nil {
		return Subscription{}, err
	}
	e, err := s.subs.Get(ctx, subKey(appID, topicName, name))
	if errors.Is(err, kv.ErrKeyNotFound) {
		return Subscription{}, ErrSubscriptionNotFound
	}
	if err != nil {
		return Subscription{}, fmt.Errorf("topic: get subscription: %w", err)
	}
	var sub Subscription
	if err := json.Unmarshal(e.Value, &sub); err != nil {
		return Subscription{}, fmt.Errorf("topic: decode %s: %w", e.Key, err)
	}
	return sub, nil
}

// UpdateSubscription changes a subscription with compare-and-set.
func (s *Store) UpdateSubscription(ctx context.Context, appID int64, topicName, name string, change func(*Subscription) error) error {
	if _, err := s.Topic(ctx, appID, topicName); err != nil {
		return err
	}
	rev, err := update(ctx, s.subs, subKey(appID, topicName, name), ErrSubscriptionNotFound, func(sub *Subscription) error {
		if err := change(sub); err != nil {
			return err
		}
		sub.LastModifyTime = s.clk.Now().Unix()
		return nil
	})
	if err != nil {
		return err
	}
	return s.idx.waitSub(ctx, rev)
}

// Unsubscribe removes a subscription.
func (s *Store) Unsubscribe(ctx context.Context, appID int64, topicName, name string) error {
	if _, err := s.Subscription(ctx, appID, topicName, name); err != nil {
		return err
	}
	if err := s.subs.Delete(ctx, subKey(appID, topicName, name)); err != nil {
		return fmt.Errorf("topic: unsubscribe: %w", err)
	}
	return s.idx.waitSubGone(ctx, appID, topicName, name)
}

// ListSubscriptions returns a topic's subscriptions whose names contain
// search, sorted by name, from offset, at most limit, and how many match.
func (s *Store) ListSubscriptions(ctx context.Context, appID int64, topicName, search string, offset, limit int) (int, []Subscription, error) {
	if _, err := s.Topic(ctx, appID, topicName); err != nil {
		return 0, nil, err
	}
	all := s.idx.subsOf(appID, topicName, search)
	return len(all), page(all, offset, limit), nil
}

// Subscriptions returns every subscription of a topic from the index (the
// publish path). The slice is shared: do not modify it.
func (s *Store) Subscriptions(appID int64, topicName string) []*Subscription {
	return s.idx.subscriptions(topicKey(appID, topicName))
}

// Revisions are the last revisions of the topic and subscription buckets
// this process's index has applied.
func (s *Store) Revisions() (topics, subs uint64) {
	return s.idx.topicF.Revision(), s.idx.subF.Revision()
}

// WaitRevisions waits until the index has applied the given revisions of
// both buckets: what another process saw when it published, this one sees
// before it fans the message out.
func (s *Store) WaitRevisions(ctx context.Context, topics, subs uint64) error {
	if err := s.idx.waitTopic(ctx, topics); err != nil {
		return err
	}
	return s.idx.waitSub(ctx, subs)
}

// TopicFromIndex returns a topic from the index without reading the bucket.
func (s *Store) TopicFromIndex(appID int64, name string) (Topic, bool) {
	return s.idx.topic(topicKey(appID, name))
}

func page[T any](all []T, offset, limit int) []T {
	if offset >= len(all) {
		return []T{}
	}
	end := min(len(all), offset+limit)
	return all[offset:end]
}

func containsFold(s, sub string) bool {
	return sub == "" || strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

func sortByName[T any](xs []T, name func(T) string) {
	slices.SortFunc(xs, func(a, b T) int { return cmp.Compare(name(a), name(b)) })
}

// waitTimeout bounds how long a write waits for the index to see it.
const waitTimeout = 10 * time.Second
