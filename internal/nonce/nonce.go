// Package nonce remembers the nonces of signed API requests in the engine,
// so that a request replayed to another herald process on the same cluster,
// or to any process after a restart (graceful or kill -9), is refused as it
// is by the process that first served it. Every herald process records
// nonces here, on the embedded engine too.
package nonce

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/herald-mq/herald/internal/engine/kv"
)

// Bucket holds one key per (SecretId, Nonce) seen, each expiring after the
// Store's keep time.
const Bucket = "herald_nonces"

// creator is what the Store needs of its bucket (a *kv.Bucket).
type creator interface {
	Create(ctx context.Context, key string, value []byte) (uint64, error)
}

// Store records nonces in a key-value bucket whose keys expire.
type Store struct {
	kv creator
}

// Open opens the bucket with open, which must create it with keys expiring
// after keep (twice the signature window covers every timestamp accepted).
func Open(ctx context.Context, open func(ctx context.Context, bucket string, ttl time.Duration) (*kv.Bucket, error), keep time.Duration) (*Store, error) {
	if keep <= 0 {
		return nil, errors.New("nonce: keep must be positive")
	}
	b, err := open(ctx, Bucket, keep)
	if err != nil {
		return nil, err
	}
	return &Store{kv: b}, nil
}

// FirstUse records secretID's nonce and reports whether no process had
// recorded it before.
func (s *Store) FirstUse(ctx context.Context, secretID, nonce string) (bool, error) {
	sum := sha256.Sum256([]byte(secretID + "\x00" + nonce))
	_, err := s.kv.Create(ctx, hex.EncodeToString(sum[:16]), nil)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, kv.ErrKeyExists):
		return false, nil
	default:
		return false, fmt.Errorf("nonce: record: %w", err)
	}
}
