package topic

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/herald-mq/herald/internal/engine/kv"
)

// index is the in-memory picture of both buckets.
type index struct {
	mu     sync.RWMutex
	topics map[string]Topic           // "<appid>.<topic>"
	subs   map[string][]*Subscription // "<appid>.<topic>" -> sorted by name
	// topicF and subF follow the buckets into the maps and know the
	// revisions applied.
	topicF, subF *kv.Follower
}

func newIndex() *index {
	return &index{topics: map[string]Topic{}, subs: map[string][]*Subscription{}}
}

func (x *index) applyTopic(e kv.Entry, log *slog.Logger) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if e.Deleted {
		delete(x.topics, e.Key)
		return
	}
	var t Topic
	if err := json.Unmarshal(e.Value, &t); err != nil {
		log.Error("topic: undecodable topic record", "key", e.Key, "err", err)
		return
	}
	x.topics[e.Key] = t
}

func (x *index) applySub(e kv.Entry, log *slog.Logger) {
	x.mu.Lock()
	defer x.mu.Unlock()
	i := strings.LastIndexByte(e.Key, '.')
	if i < 0 {
		return
	}
	tk, name := e.Key[:i], e.Key[i+1:]
	// Copy on write: the publish path holds slices without the lock.
	old := x.subs[tk]
	next := make([]*Subscription, 0, len(old)+1)
	for _, s := range old {
		if s.Name != name {
			next = append(next, s)
		}
	}
	if !e.Deleted {
		var sub Subscription
		if err := json.Unmarshal(e.Value, &sub); err != nil {
			log.Error("topic: undecodable subscription record", "key", e.Key, "err", err)
		} else {
			next = append(next, &sub)
			sortByName(next, func(s *Subscription) string { return s.Name })
		}
	}
	if len(next) == 0 {
		delete(x.subs, tk)
		return
	}
	x.subs[tk] = next
}

// wait blocks until done() holds (read under the index's lock),
// re-checking after every entry f applies.
func (x *index) wait(ctx context.Context, f *kv.Follower, done func() bool) error {
	locked := func() bool {
		x.mu.RLock()
		defer x.mu.RUnlock()
		return done()
	}
	if locked() { // the common case, checked before paying for a timer
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	if err := f.Wait(ctx, locked); err != nil {
		return fmt.Errorf("topic: index did not catch up: %w", ctx.Err())
	}
	return nil
}

func (x *index) waitTopic(ctx context.Context, rev uint64) error {
	return x.wait(ctx, x.topicF, func() bool { return x.topicF.Revision() >= rev })
}

func (x *index) waitSub(ctx context.Context, rev uint64) error {
	return x.wait(ctx, x.subF, func() bool { return x.subF.Revision() >= rev })
}

func (x *index) waitTopicGone(ctx context.Context, appID int64, name string) error {
	k := topicKey(appID, name)
	return x.wait(ctx, x.topicF, func() bool { _, ok := x.topics[k]; return !ok })
}

func (x *index) waitSubGone(ctx context.Context, appID int64, topicName, name string) error {
	k := topicKey(appID, topicName)
	return x.wait(ctx, x.subF, func() bool {
		for _, s := range x.subs[k] {
			if s.Name == name {
				return false
			}
		}
		return true
	})
}

func (x *index) topic(key string) (Topic, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	t, ok := x.topics[key]
	return t, ok
}

func (x *index) subscriptions(topicKey string) []*Subscription {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.subs[topicKey]
}

func (x *index) topicCount(appID int64) int {
	prefix := strconv.FormatInt(appID, 10) + "."
	x.mu.RLock()
	defer x.mu.RUnlock()
	n := 0
	for k := range x.topics {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}

func (x *index) topicsOf(appID int64, search string) []Topic {
	prefix := strconv.FormatInt(appID, 10) + "."
	x.mu.RLock()
	var out []Topic
	for k, t := range x.topics {
		if strings.HasPrefix(k, prefix) && containsFold(t.Name, search) {
			out = append(out, t)
		}
	}
	x.mu.RUnlock()
	sortByName(out, func(t Topic) string { return t.Name })
	return out
}

func (x *index) subsOf(appID int64, topicName, search string) []Subscription {
	subs := x.subscriptions(topicKey(appID, topicName))
	out := make([]Subscription, 0, len(subs))
	for _, s := range subs {
		if containsFold(s.Name, search) {
			out = append(out, *s)
		}
	}
	return out
}

const idAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz"

// randomID is 8 random characters [0-9a-z], as in CMQ's "topic-gzz05csc".
func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b)
}
