package engine_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/engine"
	"github.com/herald-mq/herald/internal/engine/enginetest"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	other := errors.New("topic: no such topic")
	cases := []struct {
		name string
		err  error
		full bool
		want error // nil: err comes back as it is
	}{
		{"no responders", fmt.Errorf("queue: receive: %w", nats.ErrNoResponders), false, engine.ErrUnavailable},
		{"no stream response", fmt.Errorf("topic: publish not stored: %w", jetstream.ErrNoStreamResponse), false, engine.ErrUnavailable},
		{"bound reached", fmt.Errorf("kv: %w", context.DeadlineExceeded), false, engine.ErrUnavailable},
		{"nats timeout", nats.ErrTimeout, false, engine.ErrUnavailable},
		{"reconnecting", nats.ErrConnectionReconnecting, false, engine.ErrUnavailable},
		{"cluster not available", &jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"}, false, engine.ErrUnavailable},
		{"stream offline", &jetstream.APIError{Code: 500, ErrorCode: 10118}, false, engine.ErrUnavailable},
		{"JetStream not enabled", jetstream.ErrJetStreamNotEnabled, false, engine.ErrUnavailable},
		{"unanswered write on a full disk", context.DeadlineExceeded, true, engine.ErrStorageFull},
		{"insufficient resources", &jetstream.APIError{Code: 503, ErrorCode: 10023, Description: "insufficient resources"}, false, engine.ErrStorageFull},
		{"storage exceeded", &jetstream.APIError{Code: 500, ErrorCode: 10047}, false, engine.ErrStorageFull},
		{"store failed: no space", &jetstream.APIError{Code: 503, ErrorCode: 10077, Description: "write /d/1.blk: no space left on device"}, false, engine.ErrStorageFull},
		{"store failed: max bytes", &jetstream.APIError{Code: 503, ErrorCode: 10077, Description: "maximum bytes exceeded"}, false, nil},
		{"client went away", context.Canceled, false, nil},
		{"a service error", other, true, nil},
		{"nil", nil, true, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := engine.Classify(tc.err, tc.full)
			if tc.want == nil {
				require.Equal(t, tc.err, got)
				return
			}
			require.ErrorIs(t, got, tc.want)
			require.ErrorIs(t, got, tc.err, "the cause stays in the chain")
			require.Equal(t, got, engine.Classify(got, !tc.full), "classifying twice changes nothing")
		})
	}
}

func TestEmbeddedEngineIsReady(t *testing.T) {
	t.Parallel()
	e := enginetest.New(t)
	require.NoError(t, e.Ready(context.Background()))
	require.False(t, e.Full())
	require.ErrorIs(t, e.Classify(context.DeadlineExceeded), engine.ErrUnavailable)
}
