// Package kv is a key-value bucket of the engine with revisions, and a
// follower that keeps an in-memory index of a bucket up to date. Its users
// see keys, values and revisions, never JetStream: a nats.go upgrade that
// changes how buckets are spoken to changes this package only.
package kv

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Errors of bucket operations; every other error is the engine's.
var (
	// ErrKeyNotFound: the key has no value (never written, deleted or expired).
	ErrKeyNotFound = errors.New("kv: key not found")
	// ErrKeyExists: Create found a value already there.
	ErrKeyExists = errors.New("kv: key exists")
	// ErrWrongRevision: the key changed since the revision an Update or
	// DeleteAt was based on (compare-and-set lost).
	ErrWrongRevision = errors.New("kv: key changed since the revision read")
)

// Entry is one key's value at a revision.
type Entry struct {
	Key      string
	Value    []byte
	Revision uint64
	// Deleted marks a delete, purge or expiry of the key; Value is empty.
	Deleted bool
}

// Bucket is one key-value bucket.
type Bucket struct {
	kv jetstream.KeyValue
}

// New wraps an open JetStream bucket (the engine opens them).
func New(kv jetstream.KeyValue) *Bucket { return &Bucket{kv: kv} }

// Name is the bucket's name.
func (b *Bucket) Name() string { return b.kv.Bucket() }

// Get returns the key's current value, or ErrKeyNotFound.
func (b *Bucket) Get(ctx context.Context, key string) (Entry, error) {
	e, err := b.kv.Get(ctx, key)
	if err != nil {
		return Entry{}, b.err("get", key, err)
	}
	return entry(e), nil
}

// Put writes the key whatever it holds and returns the new revision.
func (b *Bucket) Put(ctx context.Context, key string, value []byte) (uint64, error) {
	rev, err := b.kv.Put(ctx, key, value)
	if err != nil {
		return 0, b.err("put", key, err)
	}
	return rev, nil
}

// Create writes the key only if it has no value (ErrKeyExists otherwise) and
// returns the new revision.
func (b *Bucket) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	rev, err := b.kv.Create(ctx, key, value)
	if err != nil {
		return 0, b.err("create", key, err)
	}
	return rev, nil
}

// Update writes the key only if its last revision is rev (ErrWrongRevision
// otherwise) and returns the new revision.
func (b *Bucket) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	nrev, err := b.kv.Update(ctx, key, value, rev)
	if err != nil {
		return 0, b.err("update", key, err)
	}
	return nrev, nil
}

// Delete removes the key's value (a delete marker stays in the history).
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if err := b.kv.Delete(ctx, key); err != nil {
		return b.err("delete", key, err)
	}
	return nil
}

// DeleteAt removes the key's value only if its last revision is rev
// (ErrWrongRevision otherwise).
func (b *Bucket) DeleteAt(ctx context.Context, key string, rev uint64) error {
	if err := b.kv.Delete(ctx, key, jetstream.LastRevision(rev)); err != nil {
		return b.err("delete", key, err)
	}
	return nil
}

// Purge removes the key with its history, leaving a marker of the removal
// that followers see and that the engine itself removes markerTTL later
// (per-key TTLs); markerTTL 0 keeps the marker.
func (b *Bucket) Purge(ctx context.Context, key string, markerTTL time.Duration) error {
	var opts []jetstream.KVDeleteOpt
	if markerTTL > 0 {
		opts = append(opts, jetstream.PurgeTTL(markerTTL))
	}
	if err := b.kv.Purge(ctx, key, opts...); err != nil {
		return b.err("purge", key, err)
	}
	return nil
}

// Keys lists the keys with a value that match filter (NATS subject
// wildcards: "a.*.c", "a.>").
func (b *Bucket) Keys(ctx context.Context, filter string) ([]string, error) {
	l, err := b.kv.ListKeysFiltered(ctx, filter)
	if err != nil {
		return nil, b.err("list", filter, err)
	}
	var keys []string
	for k := range l.Keys() {
		keys = append(keys, k)
	}
	_ = l.Stop() // the lister has ended; stopping it again reports nothing useful
	return keys, nil
}

func (b *Bucket) err(op, key string, err error) error {
	// A lost compare-and-set is checked first: a replicated stream reports
	// it with its own code (10164), which nats.go also wraps as
	// ErrKeyExists.
	switch {
	case op == "create" && (errors.Is(err, jetstream.ErrKeyExists) || isWrongLastSequence(err)):
		// Create is an update expecting no revision.
		err = ErrKeyExists
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch) || isWrongLastSequence(err):
		err = ErrWrongRevision
	case errors.Is(err, jetstream.ErrKeyNotFound):
		err = ErrKeyNotFound
	case errors.Is(err, jetstream.ErrKeyExists):
		err = ErrKeyExists
	}
	return fmt.Errorf("kv: %s %s/%s: %w", op, b.kv.Bucket(), key, err)
}

func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

func entry(e jetstream.KeyValueEntry) Entry {
	return Entry{Key: e.Key(), Value: e.Value(), Revision: e.Revision(), Deleted: e.Operation() != jetstream.KeyValuePut}
}
