package nonce_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/herald-mq/herald/internal/engine/enginetest"
	"github.com/herald-mq/herald/internal/nonce"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine.func1"))
}

func TestFirstUse(t *testing.T) {
	t.Parallel()
	eng := enginetest.New(t)
	ctx := t.Context()
	s, err := nonce.Open(ctx, eng.ExpiringBucket, time.Second)
	require.NoError(t, err)
	other, err := nonce.Open(ctx, eng.ExpiringBucket, time.Second) // another process
	require.NoError(t, err)

	first, err := s.FirstUse(ctx, "AKIDa", "42")
	require.NoError(t, err)
	require.True(t, first)
	first, err = other.FirstUse(ctx, "AKIDa", "42")
	require.NoError(t, err)
	require.False(t, first, "seen by another process")
	first, err = s.FirstUse(ctx, "AKIDb", "42")
	require.NoError(t, err)
	require.True(t, first, "nonces are per SecretId")

	require.Eventually(t, func() bool {
		first, err := s.FirstUse(ctx, "AKIDa", "42")
		return err == nil && first
	}, 10*time.Second, 100*time.Millisecond, "forgotten once it expires")

	_, err = nonce.Open(ctx, eng.ExpiringBucket, 0)
	require.Error(t, err)
}
