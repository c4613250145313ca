package delivery

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestReadyOnlyWhileConsuming(t *testing.T) {
	t.Parallel()
	r := newRig(t, 1, nil)
	require.NoError(t, r.svc.Ready())
	r.svc.mu.Lock()
	r.svc.contexts[1].Stop() // a consumer that stopped by itself
	r.svc.mu.Unlock()
	require.Eventually(t, func() bool { return r.svc.Ready() != nil }, time.Second*5, 10*time.Millisecond)
	require.ErrorIs(t, r.svc.Ready(), ErrNotRunning)
	require.NoError(t, r.svc.Stop(context.Background()))
	require.ErrorIs(t, r.svc.Ready(), ErrNotRunning)
}
