package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/herald-mq/herald/internal/engine/kv"

	"github.com/herald-mq/herald/internal/push/mnssign"
)

// kvKeyStore keeps the MNS signing keyring in one key of a bucket, with
// compare-and-set on the revision.
type kvKeyStore struct {
	kv  keyBucket
	key string
}

func (s kvKeyStore) Load(ctx context.Context) ([]byte, error) {
	e, err := s.kv.Get(ctx, s.key)
	if errors.Is(err, kv.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return e.Value, nil
}

func (s kvKeyStore) Save(ctx context.Context, prev, next []byte) error {
	e, err := s.kv.Get(ctx, s.key)
	switch {
	case errors.Is(err, kv.ErrKeyNotFound):
		if prev != nil {
			return fmt.Errorf("keyring gone: %w", mnssign.ErrConflict)
		}
		if _, err := s.kv.Create(ctx, s.key, next); err != nil {
			if errors.Is(err, kv.ErrKeyExists) {
				return fmt.Errorf("keyring created concurrently: %w", mnssign.ErrConflict)
			}
			return err
		}
		return nil
	case err != nil:
		return err
	}
	if !bytes.Equal(e.Value, prev) {
		return fmt.Errorf("keyring changed: %w", mnssign.ErrConflict)
	}
	if _, err := s.kv.Update(ctx, s.key, next, e.Revision); err != nil {
		if errors.Is(err, kv.ErrWrongRevision) {
			return fmt.Errorf("keyring changed: %w", mnssign.ErrConflict)
		}
		return err
	}
	return nil
}

// keyBucket is what kvKeyStore needs of a key-value bucket (a *kv.Bucket).
type keyBucket interface {
	Get(ctx context.Context, key string) (kv.Entry, error)
	Create(ctx context.Context, key string, value []byte) (uint64, error)
	Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error)
}
