package account_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/herald-mq/herald/internal/account"
	"github.com/herald-mq/herald/internal/engine"
	"github.com/herald-mq/herald/internal/engine/enginetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine.func1"))
}

func bucket(t *testing.T, eng *engine.Engine) jetstream.KeyValue {
	t.Helper()
	kv, err := eng.KV(context.Background(), account.Bucket, 1)
	require.NoError(t, err)
	return kv
}

func openOn(t *testing.T, kv jetstream.KeyValue, log *slog.Logger) *account.Store {
	t.Helper()
	s, err := account.Open(context.Background(), kv, log)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

func open(t *testing.T, dir string) *account.Store {
	t.Helper()
	return openOn(t, bucket(t, enginetest.Open(t, dir)), slog.New(slog.DiscardHandler))
}

func TestBootstrapGeneratesOnceAndKeeps(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	now := time.Unix(1700000000, 0)
	s := open(t, dir)
	a, created, err := s.Bootstrap(ctx, 42, "", "", now)
	require.NoError(t, err)
	require.True(t, created)
	require.Regexp(t, `^AKID[A-Za-z0-9]{32}$`, a.SecretID)
	require.Regexp(t, `^[A-Za-z0-9]{32}$`, a.SecretKey)
	require.Equal(t, int64(42), a.AppID)
	require.True(t, a.Admin, "the bootstrap key is an admin key")

	again, created, err := s.Bootstrap(ctx, 42, "", "", now)
	require.NoError(t, err)
	require.False(t, created, "printed once")
	require.Equal(t, a.SecretID, again.SecretID)
	require.Equal(t, a.SecretKey, again.SecretKey)

	accts, err := s.Accounts(ctx)
	require.NoError(t, err)
	require.Len(t, accts, 1)
	require.Equal(t, account.Account{AppID: 42, Name: account.BootstrapName, Created: now.UTC()}, account.Account{AppID: accts[0].AppID, Name: accts[0].Name, Created: accts[0].Created.UTC()})

	s2 := open(t, t.TempDir())
	_, created, err = s2.Bootstrap(ctx, 42, "", "", now)
	require.NoError(t, err)
	require.True(t, created, "a new data dir makes a new key")
}

func TestBootstrapWithGivenKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, t.TempDir())
	a, created, err := s.Bootstrap(ctx, 7, "AKIDmine", "secret", time.Unix(1, 0))
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, "AKIDmine", a.SecretID)
	got, err := s.Lookup(ctx, "AKIDmine")
	require.NoError(t, err)
	require.Equal(t, "secret", got.SecretKey)
	require.Equal(t, int64(7), got.AppID)
	require.True(t, got.Admin)
	// New key material for the same SecretId replaces the old.
	_, _, err = s.Bootstrap(ctx, 7, "AKIDmine", "rotated", time.Unix(2, 0))
	require.NoError(t, err)
	got, err = s.Lookup(ctx, "AKIDmine")
	require.NoError(t, err)
	require.Equal(t, "rotated", got.SecretKey)
	_, err = s.Lookup(ctx, "AKIDnobody")
	require.ErrorIs(t, err, account.ErrNotFound)
	_, err = s.Lookup(ctx, "AKID bad key")
	require.ErrorIs(t, err, account.ErrNotFound)
	_, err = s.Lookup(ctx, "bootstrap")
	require.ErrorIs(t, err, account.ErrNotFound, "only SecretIds are keys")
}

// The flags are the truth: a restart with another --secret-id revokes the
// previous bootstrap key, and says so in the log. Before accounts, the old
// pair kept working.
func TestBootstrapWithNewFlagsRevokesThePreviousKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	logs := &syncWriter{b: &bytes.Buffer{}}
	log := slog.New(slog.NewTextHandler(logs, nil))
	s := openOn(t, bucket(t, enginetest.New(t)), log)
	generated, created, err := s.Bootstrap(ctx, 7, "", "", time.Unix(1, 0))
	require.NoError(t, err)
	require.True(t, created)

	_, _, err = s.Bootstrap(ctx, 7, "AKIDfirst", "k1", time.Unix(2, 0))
	require.NoError(t, err)
	_, err = s.Lookup(ctx, generated.SecretID)
	require.ErrorIs(t, err, account.ErrNotFound, "the generated key is replaced by the flags")

	_, _, err = s.Bootstrap(ctx, 7, "AKIDsecond", "k2", time.Unix(3, 0))
	require.NoError(t, err)
	_, err = s.Lookup(ctx, "AKIDfirst")
	require.ErrorIs(t, err, account.ErrNotFound)
	k, err := s.Lookup(ctx, "AKIDsecond")
	require.NoError(t, err)
	require.True(t, k.Admin)
	require.Contains(t, logs.String(), "revoked the previous bootstrap key")
	require.Contains(t, logs.String(), "secretId=AKIDfirst")
	require.NotContains(t, logs.String(), "k1", "no secret key in the log")

	// Without flags, the last pair given stays the bootstrap key.
	k, created, err = s.Bootstrap(ctx, 7, "", "", time.Unix(4, 0))
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, "AKIDsecond", k.SecretID)
	keys, err := s.Keys(ctx, 0)
	require.NoError(t, err)
	require.Len(t, keys, 1)
}

// A data dir of the herald before accounts holds keys without an admin
// flag, one per --secret-id it was started with, and the pointer to the
// generated one: the current one becomes the admin key, the others are
// revoked.
func TestBootstrapOnADataDirFromBeforeAccounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	kv := bucket(t, enginetest.New(t))
	for _, rec := range []struct{ key, value string }{
		{"AKIDold", `{"appId":1000000,"secretId":"AKIDold","secretKey":"s-old","created":"2026-01-01T00:00:00Z"}`},
		{"AKIDgen", `{"appId":1000000,"secretId":"AKIDgen","secretKey":"s-gen","created":"2026-02-01T00:00:00Z"}`},
		{"bootstrap", `AKIDgen`},
	} {
		_, err := kv.Put(ctx, rec.key, []byte(rec.value))
		require.NoError(t, err)
	}
	s := openOn(t, kv, slog.New(slog.DiscardHandler))
	k, created, err := s.Bootstrap(ctx, 1000000, "", "", time.Unix(1, 0))
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, "AKIDgen", k.SecretID)
	require.Equal(t, "s-gen", k.SecretKey)
	keys, err := s.Keys(ctx, 0)
	require.NoError(t, err)
	require.Len(t, keys, 1)
	require.Equal(t, "AKIDgen", keys[0].SecretID)
	require.True(t, keys[0].Admin)
	require.Equal(t, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), keys[0].Created.UTC())
	_, err = s.Lookup(ctx, "AKIDold")
	require.ErrorIs(t, err, account.ErrNotFound)
	e, err := kv.Get(ctx, "AKIDgen")
	require.NoError(t, err)
	require.Contains(t, string(e.Value()), `"admin":true`, "stored with its flag now")
	_, err = s.Account(ctx, 1000000)
	require.NoError(t, err, "the bootstrap account is made")
}

// Another process revoking (or changing) a key is seen by this one's cache
// through the watch, within a second. Before, a key once looked up stayed
// valid in each process until it restarted.
func TestRevocationFollowsTheBucket(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	eng := enginetest.New(t)
	// Two stores on one bucket stand for two processes: each has its own
	// cache.
	this := openOn(t, bucket(t, eng), slog.New(slog.DiscardHandler))
	other := openOn(t, bucket(t, eng), slog.New(slog.DiscardHandler))
	_, _, err := other.Bootstrap(ctx, 1, "AKIDadmin", "admin", time.Unix(1, 0))
	require.NoError(t, err)
	_, k, err := other.CreateAccount(ctx, 0, "team", time.Unix(2, 0))
	require.NoError(t, err)

	got, err := this.Lookup(ctx, k.SecretID)
	require.NoError(t, err)
	require.Equal(t, k.SecretKey, got.SecretKey)

	require.NoError(t, other.RevokeKey(ctx, k.SecretID))
	_, err = other.Lookup(ctx, k.SecretID)
	require.ErrorIs(t, err, account.ErrNotFound, "refused at once by the process that revoked it")
	require.Eventually(t, func() bool {
		_, err := this.Lookup(ctx, k.SecretID)
		return err != nil
	}, time.Second, 5*time.Millisecond, "the other process still accepts the revoked key")
	_, err = this.Lookup(ctx, k.SecretID)
	require.ErrorIs(t, err, account.ErrNotFound)

	// A key removed straight from the bucket, and a key whose secret
	// changed, are followed the same way.
	_, err = this.Lookup(ctx, "AKIDadmin")
	require.NoError(t, err)
	require.NoError(t, other.Put(ctx, account.Key{AppID: 1, SecretID: "AKIDadmin", SecretKey: "changed", Admin: true}))
	require.Eventually(t, func() bool {
		got, err := this.Lookup(ctx, "AKIDadmin")
		return err == nil && got.SecretKey == "changed"
	}, time.Second, 5*time.Millisecond)
	kv := bucket(t, eng)
	require.NoError(t, kv.Delete(ctx, "AKIDadmin"))
	require.Eventually(t, func() bool {
		_, err := this.Lookup(ctx, "AKIDadmin")
		return err != nil
	}, time.Second, 5*time.Millisecond)
}

func TestAccountsAndKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, t.TempDir())
	admin, _, err := s.Bootstrap(ctx, 1000000, "AKIDadmin", "admin", time.Unix(1, 0))
	require.NoError(t, err)

	a, first, err := s.CreateAccount(ctx, 0, "billing", time.Unix(2, 0))
	require.NoError(t, err)
	require.Equal(t, int64(1000001), a.AppID, "the next APPID above the highest")
	require.Equal(t, "billing", a.Name)
	require.Equal(t, a.AppID, first.AppID)
	require.False(t, first.Admin)
	require.Regexp(t, `^AKID[A-Za-z0-9]{32}$`, first.SecretID)

	b, _, err := s.CreateAccount(ctx, 5000, "explicit", time.Unix(3, 0))
	require.NoError(t, err)
	require.Equal(t, int64(5000), b.AppID)
	_, _, err = s.CreateAccount(ctx, 5000, "again", time.Unix(3, 0))
	require.ErrorIs(t, err, account.ErrAccountExists)
	_, err = s.CreateKey(ctx, 42, false, time.Unix(3, 0))
	require.ErrorIs(t, err, account.ErrAccountNotFound)

	second, err := s.CreateKey(ctx, a.AppID, false, time.Unix(4, 0))
	require.NoError(t, err)
	keys, err := s.Keys(ctx, a.AppID)
	require.NoError(t, err)
	require.Len(t, keys, 2)
	require.Equal(t, first.SecretID, keys[0].SecretID, "oldest first")
	require.Equal(t, second.SecretID, keys[1].SecretID)
	all, err := s.Keys(ctx, 0)
	require.NoError(t, err)
	require.Len(t, all, 4)

	accts, err := s.Accounts(ctx)
	require.NoError(t, err)
	var ids []int64
	for _, a := range accts {
		ids = append(ids, a.AppID)
	}
	require.Equal(t, []int64{5000, 1000000, 1000001}, ids)

	// The last admin key stays, by revocation or by deleting its account.
	require.ErrorIs(t, s.RevokeKey(ctx, admin.SecretID), account.ErrLastAdminKey)
	require.ErrorIs(t, s.DeleteAccount(ctx, 1000000), account.ErrLastAdminKey)
	newAdmin, err := s.CreateKey(ctx, a.AppID, true, time.Unix(5, 0))
	require.NoError(t, err)
	require.NoError(t, s.RevokeKey(ctx, admin.SecretID), "another admin key remains")
	require.ErrorIs(t, s.RevokeKey(ctx, admin.SecretID), account.ErrNotFound)
	require.ErrorIs(t, s.RevokeKey(ctx, newAdmin.SecretID), account.ErrLastAdminKey)

	require.NoError(t, s.DeleteAccount(ctx, 5000))
	require.ErrorIs(t, s.DeleteAccount(ctx, 5000), account.ErrAccountNotFound)
	require.ErrorIs(t, s.DeleteAccount(ctx, a.AppID), account.ErrLastAdminKey, "it holds the only admin key")
	require.NoError(t, s.RevokeKey(ctx, first.SecretID))
	_, err = s.Lookup(ctx, first.SecretID)
	require.ErrorIs(t, err, account.ErrNotFound)
	_, err = s.Lookup(ctx, second.SecretID)
	require.NoError(t, err)
}

func TestDeleteAccountRevokesItsKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, t.TempDir())
	_, _, err := s.Bootstrap(ctx, 1000000, "AKIDadmin", "admin", time.Unix(1, 0))
	require.NoError(t, err)
	a, k1, err := s.CreateAccount(ctx, 0, "gone", time.Unix(2, 0))
	require.NoError(t, err)
	k2, err := s.CreateKey(ctx, a.AppID, false, time.Unix(3, 0))
	require.NoError(t, err)
	for _, k := range []account.Key{k1, k2} {
		_, err := s.Lookup(ctx, k.SecretID)
		require.NoError(t, err)
	}
	require.NoError(t, s.DeleteAccount(ctx, a.AppID))
	for _, k := range []account.Key{k1, k2} {
		_, err := s.Lookup(ctx, k.SecretID)
		require.ErrorIs(t, err, account.ErrNotFound)
	}
	_, err = s.Account(ctx, a.AppID)
	require.ErrorIs(t, err, account.ErrAccountNotFound)
	keys, err := s.Keys(ctx, a.AppID)
	require.NoError(t, err)
	require.Empty(t, keys)
}

func TestAccountsSurviveRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	var made account.Key
	func() {
		eng := enginetest.Open(t, dir)
		s, err := account.Open(ctx, bucket(t, eng), slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		defer s.Close()
		_, _, err = s.Bootstrap(ctx, 1, "", "", time.Unix(1, 0))
		require.NoError(t, err)
		_, made, err = s.CreateAccount(ctx, 0, "kept", time.Unix(2, 0))
		require.NoError(t, err)
		s.Close()
		require.NoError(t, eng.Close())
	}()
	s := open(t, dir)
	a, created, err := s.Bootstrap(ctx, 1, "", "", time.Unix(2, 0))
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, time.Unix(1, 0).UTC(), a.Created.UTC())
	got, err := s.Lookup(ctx, made.SecretID)
	require.NoError(t, err)
	require.Equal(t, made.SecretKey, got.SecretKey)
}

// syncWriter lets the store's goroutines and the test share a buffer.
type syncWriter struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// Two processes revoking the last two admin keys at the same moment never
// leave the cluster without an admin key.
func TestConcurrentRevocationsKeepAnAdmin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	eng := enginetest.New(t)
	one := openOn(t, bucket(t, eng), slog.New(slog.DiscardHandler))
	two := openOn(t, bucket(t, eng), slog.New(slog.DiscardHandler))
	left, _, err := one.Bootstrap(ctx, 1, "AKIDfirst", "k", time.Unix(1, 0))
	require.NoError(t, err)
	for range 10 {
		other, err := one.CreateKey(ctx, 1, true, time.Unix(2, 0))
		require.NoError(t, err)
		errs := make(chan error, 2)
		go func() { errs <- one.RevokeKey(ctx, left.SecretID) }()
		go func() { errs <- two.RevokeKey(ctx, other.SecretID) }()
		refused := 0
		for range 2 {
			err := <-errs
			if err != nil {
				require.ErrorIs(t, err, account.ErrLastAdminKey)
				refused++
			}
		}
		require.Positive(t, refused, "both revocations succeeded")
		keys, err := one.Keys(ctx, 1)
		require.NoError(t, err)
		var admins []account.Key
		for _, k := range keys {
			if k.Admin {
				admins = append(admins, k)
			}
		}
		require.NotEmpty(t, admins)
		require.LessOrEqual(t, len(admins), 2)
		for _, k := range admins {
			require.Eventually(t, func() bool {
				_, err1 := one.Lookup(ctx, k.SecretID)
				_, err2 := two.Lookup(ctx, k.SecretID)
				return err1 == nil && err2 == nil
			}, time.Second, 5*time.Millisecond, "a key put back is valid again everywhere")
		}
		left = admins[0]
		for _, k := range admins[1:] {
			require.NoError(t, one.RevokeKey(ctx, k.SecretID))
		}
	}
}

// Two processes starting at once on a new engine agree on one bootstrap
// key, printed by one of them.
func TestConcurrentBootstrapMakesOneKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	eng := enginetest.New(t)
	stores := []*account.Store{
		openOn(t, bucket(t, eng), slog.New(slog.DiscardHandler)),
		openOn(t, bucket(t, eng), slog.New(slog.DiscardHandler)),
	}
	type result struct {
		k       account.Key
		created bool
		err     error
	}
	results := make(chan result, 2)
	for _, s := range stores {
		go func() {
			k, created, err := s.Bootstrap(ctx, 9, "", "", time.Unix(1, 0))
			results <- result{k, created, err}
		}()
	}
	a, b := <-results, <-results
	require.NoError(t, a.err)
	require.NoError(t, b.err)
	require.Equal(t, a.k.SecretID, b.k.SecretID)
	require.True(t, a.created != b.created, "printed once")
	keys, err := stores[0].Keys(ctx, 0)
	require.NoError(t, err)
	require.Len(t, keys, 1)
}
