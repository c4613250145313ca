package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/herald-mq/herald/internal/push/mnssign"
)

// kvKeyStore keeps the MNS signing keyring in one key of a bucket, with
// compare-and-set on the revision.
type kvKeyStore struct {
	kv  jetstream.KeyValue
	key string
}

func (s kvKeyStore) Load(ctx context.Context) ([]byte, error) {
	e, err := s.kv.Get(ctx, s.key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return e.Value(), nil
}

func (s kvKeyStore) Save(ctx context.Context, prev, next []byte) error {
	e, err := s.kv.Get(ctx, s.key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		if prev != nil {
			return fmt.Errorf("keyring gone: %w", mnssign.ErrConflict)
		}
		if _, err := s.kv.Create(ctx, s.key, next); err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) {
				return fmt.Errorf("keyring created concurrently: %w", mnssign.ErrConflict)
			}
			return err
		}
		return nil
	case err != nil:
		return err
	}
	if !bytes.Equal(e.Value(), prev) {
		return fmt.Errorf("keyring changed: %w", mnssign.ErrConflict)
	}
	if _, err := s.kv.Update(ctx, s.key, next, e.Revision()); err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
			return fmt.Errorf("keyring changed: %w", mnssign.ErrConflict)
		}
		return err
	}
	return nil
}
