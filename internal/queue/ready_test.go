package queue_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/engine/enginetest"
	"github.com/herald-mq/herald/internal/queue"
)

func TestReadyOnlyWhileRunning(t *testing.T) {
	t.Parallel()
	s := newService(t, enginetest.New(t))
	require.ErrorIs(t, s.Ready(), queue.ErrNotRunning)
	require.NoError(t, s.Start(context.Background()))
	require.NoError(t, s.Ready())
	require.NoError(t, s.Stop(context.Background()))
	require.ErrorIs(t, s.Ready(), queue.ErrNotRunning)
}
