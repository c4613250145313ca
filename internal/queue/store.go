package queue

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

	"github.com/herald-mq/herald/internal/engine/kv"
)

// Bucket is the metadata bucket: one key per queue, "<appId>.<lower-case
// name>", so that names are unique without regard to case.
const Bucket = "herald_queues"

func queueKey(appID int64, name string) string {
	return strconv.FormatInt(appID, 10) + "." + strings.ToLower(name)
}

// store follows the bucket into an in-memory index, which the message paths
// read; writes go to the bucket with compare-and-set.
type store struct {
	kv     *kv.Bucket
	log    *slog.Logger
	follow *kv.Follower

	mu     sync.RWMutex
	queues map[string]entry // by queueKey
}

type entry struct {
	q   *Queue
	rev uint64
}

func openStore(ctx context.Context, b *kv.Bucket, log *slog.Logger) (*store, error) {
	s := &store{kv: b, log: log, queues: map[string]entry{}}
	f, err := kv.Follow(ctx, b, s.apply)
	if err != nil {
		return nil, fmt.Errorf("queue: follow %s: %w", Bucket, err)
	}
	s.follow = f
	return s, nil
}

func (s *store) close() { s.follow.Close() }

func (s *store) apply(e kv.Entry) {
	if e.Deleted {
		s.forget(e.Key, e.Revision)
		return
	}
	var q Queue
	if err := json.Unmarshal(e.Value, &q); err != nil {
		s.log.Error("queue: undecodable queue, ignored", "key", e.Key, "err", err)
		return
	}
	s.learn(e.Key, &q, e.Revision)
}

// learn records q at rev unless the index already holds something newer.
func (s *store) learn(key string, q *Queue, rev uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.queues[key]; ok && cur.rev >= rev {
		return
	}
	s.queues[key] = entry{q, rev}
}

func (s *store) forget(key string, rev uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.queues[key]; ok && cur.rev < rev {
		delete(s.queues, key)
	}
}

// get returns a queue from the index, else from the bucket (a queue another
// process created a moment ago). The result is shared: do not modify it.
func (s *store) get(ctx context.Context, appID int64, name string) (*Queue, error) {
	key := queueKey(appID, name)
	s.mu.RLock()
	e, ok := s.queues[key]
	s.mu.RUnlock()
	if ok {
		return e.q, nil
	}
	q, _, err := s.read(ctx, key)
	return q, err
}

func (s *store) read(ctx context.Context, key string) (*Queue, uint64, error) {
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, kv.ErrKeyNotFound) {
		return nil, 0, ErrQueueNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("queue: get %s: %w", key, err)
	}
	var q Queue
	if err := json.Unmarshal(e.Value, &q); err != nil {
		return nil, 0, fmt.Errorf("queue: decode %s: %w", key, err)
	}
	s.learn(key, &q, e.Revision)
	return &q, e.Revision, nil
}

func (s *store) create(ctx context.Context, q *Queue) error {
	key := queueKey(q.AppID, q.Name)
	b, err := json.Marshal(q)
	if err != nil {
		return err
	}
	rev, err := s.kv.Create(ctx, key, b)
	if errors.Is(err, kv.ErrKeyExists) {
		return ErrQueueExists
	}
	if err != nil {
		return fmt.Errorf("queue: create: %w", err)
	}
	s.learn(key, q, rev)
	return nil
}

// update changes a queue with compare-and-set and returns the old and new
// settings.
func (s *store) update(ctx context.Context, appID int64, name string, change func(*Queue) error) (old, updated *Queue, err error) {
	key := queueKey(appID, name)
	for {
		cur, rev, err := s.read(ctx, key)
		if err != nil {
			return nil, nil, err
		}
		next := *cur
		if err := change(&next); err != nil {
			return nil, nil, err
		}
		b, err := json.Marshal(&next)
		if err != nil {
			return nil, nil, err
		}
		nrev, err := s.kv.Update(ctx, key, b, rev)
		if errors.Is(err, kv.ErrWrongRevision) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("queue: update: %w", err)
		}
		s.learn(key, &next, nrev)
		return cur, &next, nil
	}
}

// remove deletes the queue's settings and returns what they were.
func (s *store) remove(ctx context.Context, appID int64, name string) (*Queue, error) {
	key := queueKey(appID, name)
	q, rev, err := s.read(ctx, key)
	if err != nil {
		return nil, err
	}
	if err := s.kv.DeleteAt(ctx, key, rev); err != nil {
		if errors.Is(err, kv.ErrWrongRevision) {
			return nil, ErrQueueNotFound
		}
		return nil, fmt.Errorf("queue: delete: %w", err)
	}
	s.forget(key, rev+1)
	return q, nil
}

// list returns the account's queues whose names contain search (any case),
// sorted by name.
func (s *store) list(appID int64, search string) []*Queue {
	prefix := strconv.FormatInt(appID, 10) + "."
	search = strings.ToLower(search)
	s.mu.RLock()
	var out []*Queue
	for k, e := range s.queues {
		if strings.HasPrefix(k, prefix) && strings.Contains(k[len(prefix):], search) {
			out = append(out, e.q)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b *Queue) int { return cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	return out
}

func (s *store) count(appID int64) int { return len(s.list(appID, "")) }

func (s *store) all() []*Queue {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Queue, 0, len(s.queues))
	for _, e := range s.queues {
		out = append(out, e.q)
	}
	return out
}
