// Package account keeps API accounts: an APPID (the TopicOwner of what the
// account creates) and its SecretId/SecretKey pair. Accounts live in the
// engine, so every herald process verifies the same keys; each process caches
// them and follows changes with a watch.
package account

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the key-value bucket holding accounts, keyed by SecretId.
const Bucket = "herald_accounts"

// ErrNotFound means no account has the SecretId.
var ErrNotFound = errors.New("account: secret id does not exist")

// Account is one API identity.
type Account struct {
	AppID     int64     `json:"appId"`
	SecretID  string    `json:"secretId"`
	SecretKey string    `json:"secretKey"`
	Created   time.Time `json:"created"`
}

// Store reads and writes accounts.
type Store struct {
	kv  jetstream.KeyValue
	log *slog.Logger

	mu    sync.RWMutex
	cache map[string]Account
}

// Open returns a store over the bucket.
func Open(kv jetstream.KeyValue, log *slog.Logger) *Store {
	return &Store{kv: kv, log: log, cache: map[string]Account{}}
}

// Lookup returns the account with secretID.
func (s *Store) Lookup(ctx context.Context, secretID string) (Account, error) {
	s.mu.RLock()
	a, ok := s.cache[secretID]
	s.mu.RUnlock()
	if ok {
		return a, nil
	}
	if !validKey(secretID) {
		return Account{}, ErrNotFound
	}
	e, err := s.kv.Get(ctx, secretID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Account{}, ErrNotFound
	}
	if err != nil {
		return Account{}, fmt.Errorf("account: lookup: %w", err)
	}
	if err := json.Unmarshal(e.Value(), &a); err != nil {
		return Account{}, fmt.Errorf("account: decode %s: %w", secretID, err)
	}
	s.mu.Lock()
	s.cache[secretID] = a
	s.mu.Unlock()
	return a, nil
}

// Put stores the account, replacing one with the same SecretId.
func (s *Store) Put(ctx context.Context, a Account) error {
	if !validKey(a.SecretID) {
		return fmt.Errorf("account: secret id %q has characters a key cannot hold", a.SecretID)
	}
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if _, err := s.kv.Put(ctx, a.SecretID, b); err != nil {
		return fmt.Errorf("account: put: %w", err)
	}
	s.mu.Lock()
	s.cache[a.SecretID] = a
	s.mu.Unlock()
	return nil
}

// Bootstrap makes sure the bootstrap account exists. With a SecretId and key
// given it stores them (under appID); without, it returns the account made on
// an earlier start, or generates one and reports created=true so the caller
// prints it once.
func (s *Store) Bootstrap(ctx context.Context, appID int64, secretID, secretKey string, now time.Time) (a Account, created bool, err error) {
	if secretID != "" {
		a, err := s.Lookup(ctx, secretID)
		if err == nil && a.SecretKey == secretKey && a.AppID == appID {
			return a, false, nil
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			return Account{}, false, err
		}
		a = Account{AppID: appID, SecretID: secretID, SecretKey: secretKey, Created: now}
		return a, false, s.Put(ctx, a)
	}
	const bootstrapKey = "bootstrap"
	e, err := s.kv.Get(ctx, bootstrapKey)
	switch {
	case err == nil:
		a, err := s.Lookup(ctx, string(e.Value()))
		return a, false, err
	case !errors.Is(err, jetstream.ErrKeyNotFound):
		return Account{}, false, fmt.Errorf("account: bootstrap: %w", err)
	}
	a = Account{AppID: appID, SecretID: "AKID" + randomString(32), SecretKey: randomString(32), Created: now}
	if err := s.Put(ctx, a); err != nil {
		return Account{}, false, err
	}
	if _, err := s.kv.Create(ctx, bootstrapKey, []byte(a.SecretID)); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			// Another process bootstrapped at the same moment: use its account.
			return s.Bootstrap(ctx, appID, "", "", now)
		}
		return Account{}, false, fmt.Errorf("account: bootstrap: %w", err)
	}
	return a, true, nil
}

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randomString(n int) string {
	var b strings.Builder
	max := big.NewInt(int64(len(alphabet)))
	for range n {
		i, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		b.WriteByte(alphabet[i.Int64()])
	}
	return b.String()
}

// validKey reports whether s can be a key of a JetStream bucket.
func validKey(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '=':
		default:
			return false
		}
	}
	return true
}
