package main

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// mustBeZero says, per part, which figures the short campaign holds at zero.
var mustBeZero = map[string]map[string]bool{
	"kill9": {
		figPublishLost:    true,
		figSendLost:       true,
		figCameBack:       true,
		figDupNotInFlight: true,
	},
	"sigterm": {
		figPublishLost: true,
		figSendLost:    true,
		figCameBack:    true,
		figDuplicated:  true, // a graceful stop explains no duplicate
	},
	"cluster": {
		figPublishLost:    true,
		figSendLost:       true,
		figCameBack:       true,
		figDupNotInFlight: false,
	},
}

// The short campaign CI runs: every part, three trials (in the cluster, one
// of each disruption). The load saturates the slow subscription, as a
// backlog is what a stop mishandles, and the settle time covers the fan-out's
// 30 s ack wait, after which duplicates of a stop show. The parts run at
// once, outside -parallel's limit: they spend most of their time waiting.
func TestShortCampaign(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	bin, err := build(ctx, t.TempDir(), true)
	require.NoError(t, err)
	s := settings{
		bin: bin, trials: 3, duration: 2500 * time.Millisecond, seed: uint64(time.Now().UnixNano()),
		drain: 45 * time.Second, settle: 32 * time.Second, inFlight: inFlightWindow,
		publishRate: 100, sendRate: 50, slowDelay: 300 * time.Millisecond,
		log: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	t.Logf("seed %d", s.seed)
	type result struct {
		f   figures
		err error
	}
	results := make([]result, len(parts))
	var wg sync.WaitGroup
	for i, p := range parts {
		wg.Go(func() {
			f, err := p.run(ctx, newRun(s, p.name))
			results[i] = result{f, err}
		})
	}
	wg.Wait()
	for i, p := range parts {
		t.Run(p.name, func(t *testing.T) {
			f, err := results[i].f, results[i].err
			t.Logf("%s (%d trials)\n%s", p.about, s.trials, f)
			require.NoError(t, err)
			require.Positive(t, f.Published, "the load published")
			require.Positive(t, f.Sent, "the load sent")
			for _, fig := range f.List() {
				if mustBeZero[p.name][fig.Name] {
					require.Zerof(t, fig.Value, "%s: %s", p.name, fig.Name)
				}
			}
		})
	}
}
