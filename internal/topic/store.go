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
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/herald-mq/herald/internal/clock"
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
	topics jetstream.KeyValue
	subs   jetstream.KeyValue
	clk    clock.Clock
	log    *slog.Logger
	idx    *index
	stop   context.CancelFunc
	done   chan struct{}
}

// OpenStore opens the store over its two buckets and starts following them.
// It returns once the index holds everything stored so far.
func OpenStore(ctx context.Context, topics, subs jetstream.KeyValue, clk clock.Clock, log *slog.Logger) (*Store, error) {
	s := &Store{topics: topics, subs: subs, clk: clk, log: log, idx: newIndex(), done: make(chan struct{})}
	wctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	tw, err := topics.WatchAll(wctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("topic: watch topics: %w", err)
	}
	sw, err := subs.WatchAll(wctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("topic: watch subscriptions: %w", err)
	}
	ready := make(chan struct{}, 2)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.follow(tw, true, ready) }()
	go func() { defer wg.Done(); s.follow(sw, false, ready) }()
	go func() { wg.Wait(); close(s.done) }()
	for range 2 {
		select {
		case <-ready:
		case <-ctx.Done():
			s.Close()
			return nil, ctx.Err()
		}
	}
	return s, nil
}

// Close stops following the buckets.
func (s *Store) Close() {
	s.stop()
	<-s.done
}

func (s *Store) follow(w jetstream.KeyWatcher, isTopic bool, ready chan<- struct{}) {
	defer func() { _ = w.Stop() }()
	for e := range w.Updates() {
		if e == nil {
			ready <- struct{}{}
			continue
		}
		if isTopic {
			s.idx.applyTopic(e, s.log)
		} else {
			s.idx.applySub(e, s.log)
		}
	}
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
	if errors.Is(err, jetstream.ErrKeyExists) {
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
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Topic{}, ErrTopicNotFound
	}
	if err != nil {
		return Topic{}, fmt.Errorf("topic: get: %w", err)
	}
	var t Topic
	if err := json.Unmarshal(e.Value(), &t); err != nil {
		return Topic{}, fmt.Errorf("topic: decode %s: %w", e.Key(), err)
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
func update[T any](ctx context.Context, kv jetstream.KeyValue, key string, notFound error, change func(*T) error) (uint64, error) {
	for {
		e, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return 0, notFound
		}
		if err != nil {
			return 0, fmt.Errorf("topic: get %s: %w", key, err)
		}
		var v T
		if err := json.Unmarshal(e.Value(), &v); err != nil {
			return 0, fmt.Errorf("topic: decode %s: %w", key, err)
		}
		if err := change(&v); err != nil {
			return 0, err
		}
		b, _ := json.Marshal(v)
		rev, err := kv.Update(ctx, key, b, e.Revision())
		if isConflict(err) {
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
	lister, err := s.subs.ListKeysFiltered(ctx, subKey(appID, topicName, "*"))
	if err != nil {
		return 0, fmt.Errorf("topic: list subscriptions: %w", err)
	}
	n := 0
	for range lister.Keys() {
		n++
	}
	return n, nil
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
	if errors.Is(err, jetstream.ErrKeyExists) {
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
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Subscription{}, ErrSubscriptionNotFound
	}
	if err != nil {
		return Subscription{}, fmt.Errorf("topic: get subscription: %w", err)
	}
	var sub Subscription
	if err := json.Unmarshal(e.Value(), &sub); err != nil {
		return Subscription{}, fmt.Errorf("topic: decode %s: %w", e.Key(), err)
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
	s.idx.mu.RLock()
	defer s.idx.mu.RUnlock()
	return s.idx.topicRev, s.idx.subRev
}

// WaitRevisions waits until the index has applied the given revisions of
// both buckets: what another process saw when it published, this one sees
// before it fans the message out.
func (s *Store) WaitRevisions(ctx context.Context, topics, subs uint64) error {
	return s.idx.wait(ctx, func() bool { return s.idx.topicRev >= topics && s.idx.subRev >= subs })
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

func isConflict(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

func containsFold(s, sub string) bool {
	return sub == "" || strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

func sortByName[T any](xs []T, name func(T) string) {
	slices.SortFunc(xs, func(a, b T) int { return cmp.Compare(name(a), name(b)) })
}

// waitTimeout bounds how long a write waits for the index to see it.
const waitTimeout = 10 * time.Second
