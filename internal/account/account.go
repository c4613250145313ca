// Package account keeps API accounts and their keys. An account is an APPID
// (the TopicOwner of everything it creates: its topics, subscriptions and
// queues are its own namespace) with a name; a key is a SecretId/SecretKey
// pair that signs requests for one account, and an admin key may also
// manage accounts and keys. Both live in the engine, so every herald process
// verifies the same keys; each process caches the keys it has looked up and
// follows the bucket with a watch, so a revoked key is refused everywhere as
// soon as the watch delivers the deletion (milliseconds on a healthy
// cluster).
//
// The bucket holds three kinds of entries:
//
//	<SecretId>         a key: {"appId","secretId","secretKey","created","admin"}
//	account.<appId>    an account: {"appId","name","created"}
//	bootstrap          the SecretId of the bootstrap key (the one --secret-id
//	                   names, or the one generated on first start)
//
// A key written before accounts existed has no "admin" field: it was the
// bootstrap key of its time. Bootstrap keeps the current one (as an admin
// key) and revokes the others.
package account

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the key-value bucket holding accounts and keys.
const Bucket = "herald_accounts"

// BootstrapName is the name of the account Bootstrap creates.
const BootstrapName = "bootstrap"

// Errors of the store.
var (
	// ErrNotFound means no key has the SecretId (never had, or revoked).
	ErrNotFound = errors.New("account: secret id does not exist")
	// ErrAccountNotFound means no account has the APPID.
	ErrAccountNotFound = errors.New("account: account does not exist")
	// ErrAccountExists means the APPID is taken.
	ErrAccountExists = errors.New("account: account already exists")
	// ErrLastAdminKey refuses to remove the last admin key: nobody could
	// manage accounts any more.
	ErrLastAdminKey = errors.New("account: the last admin key cannot be removed")
)

// Key is one API credential: it signs requests for the account AppID.
type Key struct {
	AppID     int64     `json:"appId"`
	SecretID  string    `json:"secretId"`
	SecretKey string    `json:"secretKey"`
	Created   time.Time `json:"created"`
	// Admin keys may also create, list and delete accounts, and manage the
	// keys of every account.
	Admin bool `json:"admin"`
}

// Account is one tenant: its topics, subscriptions and queues are those
// whose TopicOwner is AppID.
type Account struct {
	AppID   int64     `json:"appId"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

// keyRecord is a key as stored. Admin is nil in records written before
// accounts existed.
type keyRecord struct {
	AppID     int64     `json:"appId"`
	SecretID  string    `json:"secretId"`
	SecretKey string    `json:"secretKey"`
	Created   time.Time `json:"created"`
	Admin     *bool     `json:"admin,omitempty"`
}

func (r keyRecord) legacy() bool { return r.Admin == nil }

func (r keyRecord) key() Key {
	return Key{AppID: r.AppID, SecretID: r.SecretID, SecretKey: r.SecretKey, Created: r.Created, Admin: r.Admin == nil || *r.Admin}
}

func record(k Key) keyRecord {
	admin := k.Admin
	return keyRecord{AppID: k.AppID, SecretID: k.SecretID, SecretKey: k.SecretKey, Created: k.Created, Admin: &admin}
}

const (
	accountPrefix = "account."
	bootstrapKey  = "bootstrap"
	// waitTimeout bounds how long a write waits for this process's watch
	// to show it.
	waitTimeout = 5 * time.Second
)

func accountKey(appID int64) string { return accountPrefix + strconv.FormatInt(appID, 10) }

// cached is what the watch (or a lookup) last saw of one SecretId; a revoked
// key stays as gone, so a lookup that read the bucket before the revocation
// cannot put it back.
type cached struct {
	key  Key
	rev  uint64
	gone bool
}

// Store reads and writes accounts and keys.
type Store struct {
	kv  jetstream.KeyValue
	log *slog.Logger

	mu      sync.RWMutex
	keys    map[string]cached
	changed chan struct{} // closed and replaced on every applied entry

	stop context.CancelFunc
	done chan struct{}
}

// Open returns a store over the bucket, following it with a watch until
// Close. It returns once the watch has delivered what the bucket holds.
func Open(ctx context.Context, kv jetstream.KeyValue, log *slog.Logger) (*Store, error) {
	s := &Store{kv: kv, log: log, keys: map[string]cached{}, changed: make(chan struct{}), done: make(chan struct{})}
	wctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	w, err := kv.WatchAll(wctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("account: watch: %w", err)
	}
	ready := make(chan struct{})
	go s.follow(w, ready)
	select {
	case <-ready:
	case <-ctx.Done():
		s.Close()
		return nil, ctx.Err()
	}
	return s, nil
}

// Close stops following the bucket.
func (s *Store) Close() {
	s.stop()
	<-s.done
}

func (s *Store) follow(w jetstream.KeyWatcher, ready chan<- struct{}) {
	defer close(s.done)
	defer func() { _ = w.Stop() }()
	for e := range w.Updates() {
		if e == nil {
			close(ready)
			continue
		}
		s.apply(e)
	}
}

// apply records one entry of the watch; entries other than keys are not
// cached.
func (s *Store) apply(e jetstream.KeyValueEntry) {
	id := e.Key()
	if !isSecretID(id) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.keys[id]; ok && c.rev >= e.Revision() {
		return
	}
	defer s.notify()
	if e.Operation() != jetstream.KeyValuePut {
		s.keys[id] = cached{rev: e.Revision(), gone: true}
		return
	}
	var r keyRecord
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		// Not cached: a lookup reads the bucket and reports the error.
		s.log.Error("account: undecodable key record", "secretId", id, "err", err)
		delete(s.keys, id)
		return
	}
	s.keys[id] = cached{key: r.key(), rev: e.Revision()}
}

func (s *Store) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitGone blocks until the watch has shown secretID's deletion.
func (s *Store) waitGone(ctx context.Context, secretID string) error {
	ctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	for {
		s.mu.Lock()
		c, ok := s.keys[secretID]
		ch := s.changed
		s.mu.Unlock()
		if ok && c.gone {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("account: the watch did not show %s revoked: %w", secretID, ctx.Err())
		}
	}
}

// Lookup returns the key with secretID: from the cache the watch keeps
// current, else from the bucket.
func (s *Store) Lookup(ctx context.Context, secretID string) (Key, error) {
	if !isSecretID(secretID) {
		return Key{}, ErrNotFound
	}
	s.mu.RLock()
	c, ok := s.keys[secretID]
	s.mu.RUnlock()
	if ok {
		if c.gone {
			return Key{}, ErrNotFound
		}
		return c.key, nil
	}
	r, rev, err := s.getKey(ctx, secretID)
	if err != nil {
		return Key{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.keys[secretID]; ok && c.rev >= rev {
		// The watch got there first, maybe with a revocation.
		if c.gone {
			return Key{}, ErrNotFound
		}
		return c.key, nil
	}
	s.keys[secretID] = cached{key: r.key(), rev: rev}
	return r.key(), nil
}

func (s *Store) getKey(ctx context.Context, secretID string) (keyRecord, uint64, error) {
	e, err := s.kv.Get(ctx, secretID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return keyRecord{}, 0, ErrNotFound
	}
	if err != nil {
		return keyRecord{}, 0, fmt.Errorf("account: lookup: %w", err)
	}
	var r keyRecord
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return keyRecord{}, 0, fmt.Errorf("account: decode key %s: %w", secretID, err)
	}
	return r, e.Revision(), nil
}

// Put stores the key, replacing one with the same SecretId. It does not
// check that the account exists (tests and benchmarks use it to make keys
// directly).
func (s *Store) Put(ctx context.Context, k Key) error {
	if !isSecretID(k.SecretID) {
		return fmt.Errorf("account: secret id %q must hold only [A-Za-z0-9_=-], at most 128", k.SecretID)
	}
	b, err := json.Marshal(record(k))
	if err != nil {
		return err
	}
	rev, err := s.kv.Put(ctx, k.SecretID, b)
	if err != nil {
		return fmt.Errorf("account: put: %w", err)
	}
	s.remember(k, rev)
	return nil
}

// remember caches a key this process wrote, unless the watch already has
// something newer.
func (s *Store) remember(k Key, rev uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.keys[k.SecretID]; ok && c.rev >= rev {
		return
	}
	s.keys[k.SecretID] = cached{key: k, rev: rev}
	s.notify()
}

// CreateAccount makes an account and its first (non-admin) key. appID 0
// picks the next free APPID above every existing one.
func (s *Store) CreateAccount(ctx context.Context, appID int64, name string, now time.Time) (Account, Key, error) {
	a := Account{AppID: appID, Name: name, Created: now}
	for attempt := 0; ; attempt++ {
		if appID == 0 {
			next, err := s.nextAppID(ctx)
			if err != nil {
				return Account{}, Key{}, err
			}
			a.AppID = next
		}
		b, _ := json.Marshal(a)
		_, err := s.kv.Create(ctx, accountKey(a.AppID), b)
		if errors.Is(err, jetstream.ErrKeyExists) {
			if appID == 0 && attempt < 10 { // another process took it
				continue
			}
			return Account{}, Key{}, ErrAccountExists
		}
		if err != nil {
			return Account{}, Key{}, fmt.Errorf("account: create account: %w", err)
		}
		break
	}
	k, err := s.CreateKey(ctx, a.AppID, false, now)
	if err != nil {
		// Nothing half-made: no account without a key.
		if derr := s.kv.Delete(ctx, accountKey(a.AppID)); derr != nil {
			s.log.Error("account: removing an account whose key failed", "appId", a.AppID, "err", derr)
		}
		return Account{}, Key{}, err
	}
	return a, k, nil
}

// FirstAppID is where picked APPIDs start counting from when no account
// has a higher one (the default bootstrap APPID is 1000000).
const FirstAppID = 1000000

func (s *Store) nextAppID(ctx context.Context) (int64, error) {
	accts, err := s.Accounts(ctx)
	if err != nil {
		return 0, err
	}
	next := int64(FirstAppID)
	for _, a := range accts {
		next = max(next, a.AppID)
	}
	return next + 1, nil
}

// Account returns the account with appID.
func (s *Store) Account(ctx context.Context, appID int64) (Account, error) {
	e, err := s.kv.Get(ctx, accountKey(appID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Account{}, ErrAccountNotFound
	}
	if err != nil {
		return Account{}, fmt.Errorf("account: get account: %w", err)
	}
	var a Account
	if err := json.Unmarshal(e.Value(), &a); err != nil {
		return Account{}, fmt.Errorf("account: decode account %d: %w", appID, err)
	}
	return a, nil
}

// ensureAccount creates the account unless it exists.
func (s *Store) ensureAccount(ctx context.Context, appID int64, name string, now time.Time) error {
	b, _ := json.Marshal(Account{AppID: appID, Name: name, Created: now})
	_, err := s.kv.Create(ctx, accountKey(appID), b)
	if err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("account: create account: %w", err)
	}
	return nil
}

// entries reads every live entry of the bucket, by key.
func (s *Store) entries(ctx context.Context) (map[string][]byte, error) {
	lister, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("account: list: %w", err)
	}
	var names []string
	for k := range lister.Keys() {
		names = append(names, k)
	}
	out := make(map[string][]byte, len(names))
	for _, k := range names {
		e, err := s.kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) { // removed since the listing
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("account: read %s: %w", k, err)
		}
		out[k] = e.Value()
	}
	return out, nil
}

// Accounts lists every account by APPID.
func (s *Store) Accounts(ctx context.Context) ([]Account, error) {
	all, err := s.entries(ctx)
	if err != nil {
		return nil, err
	}
	var out []Account
	for k, v := range all {
		if !strings.HasPrefix(k, accountPrefix) {
			continue
		}
		var a Account
		if err := json.Unmarshal(v, &a); err != nil {
			return nil, fmt.Errorf("account: decode %s: %w", k, err)
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Account) int { return cmpInt(a.AppID, b.AppID) })
	return out, nil
}

// Keys lists the keys of the account appID (every account's when appID is
// 0), by APPID, then oldest first.
func (s *Store) Keys(ctx context.Context, appID int64) ([]Key, error) {
	recs, err := s.keyRecords(ctx)
	if err != nil {
		return nil, err
	}
	var out []Key
	for _, r := range recs {
		if appID == 0 || r.AppID == appID {
			out = append(out, r.key())
		}
	}
	return out, nil
}

func (s *Store) keyRecords(ctx context.Context) ([]keyRecord, error) {
	all, err := s.entries(ctx)
	if err != nil {
		return nil, err
	}
	var out []keyRecord
	for k, v := range all {
		if !isSecretID(k) {
			continue
		}
		var r keyRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return nil, fmt.Errorf("account: decode key %s: %w", k, err)
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b keyRecord) int {
		if c := cmpInt(a.AppID, b.AppID); c != 0 {
			return c
		}
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.SecretID, b.SecretID)
	})
	return out, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// CreateKey makes a new key for the account appID.
func (s *Store) CreateKey(ctx context.Context, appID int64, admin bool, now time.Time) (Key, error) {
	if _, err := s.Account(ctx, appID); err != nil {
		return Key{}, err
	}
	for {
		k := Key{AppID: appID, SecretID: "AKID" + randomString(32), SecretKey: randomString(32), Created: now, Admin: admin}
		b, _ := json.Marshal(record(k))
		rev, err := s.kv.Create(ctx, k.SecretID, b)
		if errors.Is(err, jetstream.ErrKeyExists) { // 190 random bits: never, but cheap to handle
			continue
		}
		if err != nil {
			return Key{}, fmt.Errorf("account: create key: %w", err)
		}
		s.remember(k, rev)
		return k, nil
	}
}

// RevokeKey removes a key; it is refused everywhere once each process's
// watch has shown the removal. It returns once this process refuses it.
func (s *Store) RevokeKey(ctx context.Context, secretID string) error {
	if !isSecretID(secretID) {
		return ErrNotFound
	}
	r, _, err := s.getKey(ctx, secretID)
	if err != nil {
		return err
	}
	return s.removeKeys(ctx, []keyRecord{r})
}

// removeKeys revokes the keys, unless that leaves no admin key
// (ErrLastAdminKey).
//
// The check before removing refuses the common case without touching
// anything. Two removals at once (two admins revoking the last two admin
// keys) can both pass it, so a removal of admin keys checks again once they
// are gone, and puts them back when no admin key is left: whichever of the
// two checks last sees what both did.
func (s *Store) removeKeys(ctx context.Context, recs []keyRecord) error {
	admins := false
	going := map[string]bool{}
	for _, r := range recs {
		admins = admins || r.key().Admin
		going[r.SecretID] = true
	}
	if admins {
		if err := s.keepsAnAdmin(ctx, going); err != nil {
			return err
		}
	}
	for _, r := range recs {
		if err := s.remove(ctx, r.SecretID); err != nil {
			return err
		}
	}
	if !admins {
		return nil
	}
	err := s.keepsAnAdmin(ctx, nil)
	if !errors.Is(err, ErrLastAdminKey) {
		return err
	}
	for _, r := range recs {
		b, _ := json.Marshal(r)
		if _, perr := s.kv.Put(ctx, r.SecretID, b); perr != nil {
			return fmt.Errorf("account: putting back %s after a concurrent revocation: %w", r.SecretID, perr)
		}
	}
	s.log.Warn("account: admin keys revoked at the same moment as the others; put back", "count", len(recs))
	return ErrLastAdminKey
}

// keepsAnAdmin returns ErrLastAdminKey unless an admin key other than those
// going is stored.
func (s *Store) keepsAnAdmin(ctx context.Context, going map[string]bool) error {
	recs, err := s.keyRecords(ctx)
	if err != nil {
		return err
	}
	for _, k := range recs {
		if k.key().Admin && !going[k.SecretID] {
			return nil
		}
	}
	return ErrLastAdminKey
}

func (s *Store) remove(ctx context.Context, secretID string) error {
	if err := s.kv.Delete(ctx, secretID); err != nil {
		return fmt.Errorf("account: revoke %s: %w", secretID, err)
	}
	return s.waitGone(ctx, secretID)
}

// DeleteAccount removes the account and every key of it. The caller checks
// that it owns nothing any more (topics, queues).
func (s *Store) DeleteAccount(ctx context.Context, appID int64) error {
	if _, err := s.Account(ctx, appID); err != nil {
		return err
	}
	recs, err := s.keyRecords(ctx)
	if err != nil {
		return err
	}
	var mine []keyRecord
	for _, k := range recs {
		if k.AppID == appID {
			mine = append(mine, k)
		}
	}
	// Keys first: an account whose removal fails half-way keeps its record
	// and can be deleted again.
	if err := s.removeKeys(ctx, mine); err != nil {
		return err
	}
	if err := s.kv.Delete(ctx, accountKey(appID)); err != nil {
		return fmt.Errorf("account: delete account %d: %w", appID, err)
	}
	return nil
}

// Bootstrap makes sure the bootstrap account and its admin key exist, and
// that the flags are the truth:
//   - With a SecretId and key given, that pair becomes the bootstrap key of
//     appID (an admin key); a previous bootstrap key with another SecretId
//     is revoked, and logged.
//   - Without, the bootstrap key of an earlier start stays; when there is
//     none (first start, or it was revoked and no admin key is left) a new
//     one is generated and returned with created=true, for the caller to
//     print once.
//
// Keys stored before accounts existed were bootstrap keys: the current one
// is kept as an admin key, the others are revoked.
func (s *Store) Bootstrap(ctx context.Context, appID int64, secretID, secretKey string, now time.Time) (Key, bool, error) {
	for range 5 {
		k, created, err := s.bootstrap(ctx, appID, secretID, secretKey, now)
		if !errors.Is(err, errPointerMoved) {
			return k, created, err
		}
		// Another process bootstrapped at the same moment: start over from
		// what it did.
	}
	return Key{}, false, errors.New("account: bootstrap: other processes kept changing the bootstrap key")
}

func (s *Store) bootstrap(ctx context.Context, appID int64, secretID, secretKey string, now time.Time) (Key, bool, error) {
	prev, prevRev, err := s.pointer(ctx)
	if err != nil {
		return Key{}, false, err
	}
	recs, err := s.keyRecords(ctx)
	if err != nil {
		return Key{}, false, err
	}
	var current Key
	created := false
	switch {
	case secretID != "":
		current = Key{AppID: appID, SecretID: secretID, SecretKey: secretKey, Created: now, Admin: true}
		r, _, err := s.getKey(ctx, secretID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return Key{}, false, err
		}
		same := err == nil && r.AppID == appID && r.SecretKey == secretKey
		if same {
			current.Created = r.Created
		}
		if !same || r.legacy() || !*r.Admin {
			if err := s.Put(ctx, current); err != nil {
				return Key{}, false, err
			}
		}
	default:
		found := false
		if prev != "" {
			r, _, err := s.getKey(ctx, prev)
			switch {
			case err == nil:
				current, found = r.key(), true
			case !errors.Is(err, ErrNotFound):
				return Key{}, false, err
			}
		}
		if !found {
			// The newest key stored before accounts existed was the last
			// bootstrap key.
			for _, r := range recs {
				if r.legacy() && (!found || r.Created.After(current.Created)) {
					current, found = r.key(), true
				}
			}
		}
		if !found {
			// Any admin key left will do; none is made while one remains.
			for _, r := range recs {
				if r.key().Admin {
					s.log.Info("the bootstrap key was revoked; admin keys remain, so none is generated")
					return r.key(), false, s.revokeLegacy(ctx, recs, "", prev)
				}
			}
			current = Key{AppID: appID, SecretID: "AKID" + randomString(32), SecretKey: randomString(32), Created: now, Admin: true}
			created = true
			b, _ := json.Marshal(record(current))
			if _, err := s.kv.Create(ctx, current.SecretID, b); err != nil {
				return Key{}, false, fmt.Errorf("account: bootstrap: %w", err)
			}
		} else if r, _, err := s.getKey(ctx, current.SecretID); err == nil && r.legacy() {
			if err := s.Put(ctx, current); err != nil { // now with its admin flag
				return Key{}, false, err
			}
		}
	}
	if prev != current.SecretID {
		if err := s.setPointer(ctx, current.SecretID, prevRev); err != nil {
			if created && errors.Is(err, errPointerMoved) {
				_ = s.kv.Delete(ctx, current.SecretID) // the other process's key wins
			}
			return Key{}, false, err
		}
		if prev != "" {
			if err := s.revokeReplaced(ctx, prev); err != nil {
				return Key{}, false, err
			}
		}
	}
	if err := s.revokeLegacy(ctx, recs, current.SecretID, prev); err != nil {
		return Key{}, false, err
	}
	if err := s.ensureAccount(ctx, current.AppID, BootstrapName, now); err != nil {
		return Key{}, false, err
	}
	return current, created, nil
}

var errPointerMoved = errors.New("account: the bootstrap pointer moved")

// pointer returns the SecretId of the bootstrap key and the revision of
// the pointer (0 when there is none).
func (s *Store) pointer(ctx context.Context) (string, uint64, error) {
	e, err := s.kv.Get(ctx, bootstrapKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, fmt.Errorf("account: bootstrap: %w", err)
	}
	return string(e.Value()), e.Revision(), nil
}

func (s *Store) setPointer(ctx context.Context, secretID string, prevRev uint64) error {
	var err error
	if prevRev == 0 {
		_, err = s.kv.Create(ctx, bootstrapKey, []byte(secretID))
	} else {
		_, err = s.kv.Update(ctx, bootstrapKey, []byte(secretID), prevRev)
	}
	var apiErr *jetstream.APIError
	if errors.Is(err, jetstream.ErrKeyExists) || (errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence) {
		return errPointerMoved
	}
	if err != nil {
		return fmt.Errorf("account: bootstrap: %w", err)
	}
	return nil
}

// revokeReplaced revokes the previous bootstrap key, which the flags no
// longer name.
func (s *Store) revokeReplaced(ctx context.Context, secretID string) error {
	if _, _, err := s.getKey(ctx, secretID); errors.Is(err, ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if err := s.remove(ctx, secretID); err != nil {
		return err
	}
	s.log.Warn("revoked the previous bootstrap key: --secret-id names another", "secretId", secretID)
	return nil
}

// revokeLegacy revokes the keys stored before accounts existed, but keep
// (and done, already revoked).
func (s *Store) revokeLegacy(ctx context.Context, recs []keyRecord, keep, done string) error {
	for _, r := range recs {
		if !r.legacy() || r.SecretID == keep || r.SecretID == done {
			continue
		}
		if err := s.remove(ctx, r.SecretID); err != nil {
			return err
		}
		s.log.Warn("revoked a bootstrap key of an earlier start", "secretId", r.SecretID, "appId", r.AppID)
	}
	return nil
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

// isSecretID reports whether s can be a SecretId: characters a bucket key
// can hold, without the dot that account entries have, and not the name of
// the bootstrap pointer. (The CMQ API also wants AKID first; MNS clients
// send the same SecretId as their AccessKeyId.)
func isSecretID(s string) bool {
	if s == "" || len(s) > 128 || s == bootstrapKey {
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
