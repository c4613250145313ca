package account_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/herald-mq/herald/internal/account"
	"github.com/herald-mq/herald/internal/engine/enginetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine.func1"))
}

func open(t *testing.T, dir string) *account.Store {
	t.Helper()
	eng := enginetest.Open(t, dir)
	kv, err := eng.KV(context.Background(), account.Bucket, 1)
	require.NoError(t, err)
	return account.Open(kv, slog.New(slog.DiscardHandler))
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

	again, created, err := s.Bootstrap(ctx, 42, "", "", now)
	require.NoError(t, err)
	require.False(t, created, "printed once")
	require.Equal(t, a, again)

	// After a restart on the same data dir, the same account.
	s2 := open(t, t.TempDir())
	_, created, err = s2.Bootstrap(ctx, 42, "", "", now)
	require.NoError(t, err)
	require.True(t, created, "a new data dir makes a new account")
	got, err := s.Lookup(ctx, a.SecretID)
	require.NoError(t, err)
	require.Equal(t, a.SecretKey, got.SecretKey)
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
}

func TestAccountsSurviveRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	func() {
		eng := enginetest.Open(t, dir)
		kv, err := eng.KV(ctx, account.Bucket, 1)
		require.NoError(t, err)
		s := account.Open(kv, slog.New(slog.DiscardHandler))
		_, _, err = s.Bootstrap(ctx, 1, "", "", time.Unix(1, 0))
		require.NoError(t, err)
		require.NoError(t, eng.Close())
	}()
	s := open(t, dir)
	a, created, err := s.Bootstrap(ctx, 1, "", "", time.Unix(2, 0))
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, time.Unix(1, 0).UTC(), a.Created.UTC())
}
