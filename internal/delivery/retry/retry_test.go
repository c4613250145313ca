package retry_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/herald-mq/herald/internal/delivery/retry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2024, 3, 7, 18, 49, 58, 0, time.UTC)

// seq returns an Int64N that hands out vals in turn and records each n.
func seq(t *testing.T, vals ...int64) func(int64) int64 {
	i := 0
	return func(n int64) int64 {
		require.Less(t, i, len(vals), "more draws than expected")
		require.Equal(t, int64(10_001), n, "draw span is 19..29 s in ms, both ends")
		v := vals[i]
		i++
		return v
	}
}

func TestBackoffSchedule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		scale float64
		draws []int64
		want  []time.Duration // offsets from t0 of each retry, failures answered at once
	}{
		{"lowest draws", 1, []int64{0, 0, 0}, []time.Duration{19 * time.Second, 38 * time.Second, 57 * time.Second}},
		{"highest draws", 1, []int64{10_000, 10_000, 10_000}, []time.Duration{29 * time.Second, 58 * time.Second, 87 * time.Second}},
		{"mixed", 1, []int64{1, 5_000, 9_999}, []time.Duration{19001 * time.Millisecond, 43001 * time.Millisecond, 72000 * time.Millisecond}},
		{"scaled", 0.001, []int64{0, 10_000, 500}, []time.Duration{19 * time.Millisecond, 48 * time.Millisecond, 67500 * time.Microsecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := retry.New(retry.Backoff, retry.Config{Scale: tt.scale, Int64N: seq(t, tt.draws...)})
			require.NoError(t, err)
			now := t0
			var got []time.Duration
			for attempt := 1; ; attempt++ {
				at, ok := p.Next(attempt, t0, now)
				if !ok {
					require.Equal(t, 4, attempt, "gives up after the 3rd retry fails")
					break
				}
				got = append(got, at.Sub(t0))
				now = at
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestExponentialDecaySchedule(t *testing.T) {
	t.Parallel()
	for _, sc := range []float64{1, 0.01} {
		p, err := retry.New("", retry.Config{Scale: sc})
		require.NoError(t, err)
		now := t0
		var gaps []time.Duration
		for attempt := 1; ; attempt++ {
			at, ok := p.Next(attempt, t0, now)
			if !ok {
				break
			}
			gaps = append(gaps, at.Sub(now))
			now = at
		}
		require.Len(t, gaps, 176, "scale %v", sc)
		s := func(d time.Duration) time.Duration { return time.Duration(float64(d) * sc) }
		want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 512}
		for i, w := range want {
			require.Equal(t, s(w*time.Second), gaps[i], "retry %d, scale %v", i+1, sc)
		}
		for i := 9; i < len(gaps); i++ {
			require.Equal(t, s(512*time.Second), gaps[i])
		}
		require.Equal(t, s(86015*time.Second), now.Sub(t0), "last retry 511 s + 167×512 s after publish")
	}
}

func TestExponentialDecayWindow(t *testing.T) {
	t.Parallel()
	p, err := retry.NewExponentialDecay(retry.Config{})
	require.NoError(t, err)
	tests := []struct {
		name    string
		attempt int
		now     time.Duration // since publish
		want    time.Duration // since publish; 0 = give up
	}{
		{"first failure", 1, 0, time.Second},
		{"slow receiver shifts the schedule", 3, 100 * time.Second, 104 * time.Second},
		{"tenth retry is capped", 10, time.Hour, time.Hour + 512*time.Second},
		{"far attempt stays at the cap", 500, time.Hour, time.Hour + 512*time.Second},
		{"exactly at the window end is allowed", 12, 24*time.Hour - 512*time.Second, 24 * time.Hour},
		{"one past the window gives up", 12, 24*time.Hour - 511*time.Second, 0},
		{"attempt 0 is not a failure", 0, 0, 0},
	}
	for _, tt := range tests {
		at, ok := p.Next(tt.attempt, t0, t0.Add(tt.now))
		if tt.want == 0 {
			require.False(t, ok, tt.name)
			continue
		}
		require.True(t, ok, tt.name)
		require.Equal(t, t0.Add(tt.want), at, tt.name)
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	_, err := retry.New("LINEAR", retry.Config{})
	require.ErrorIs(t, err, retry.ErrUnknownStrategy)
	_, err = retry.New(retry.Backoff, retry.Config{Scale: -1})
	require.Error(t, err)
}
