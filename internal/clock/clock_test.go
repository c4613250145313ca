package clock_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/clock"
)

func TestFakeFiresTimersInOrderAndOnlyWhenDue(t *testing.T) {
	t.Parallel()
	start := time.Unix(1700000000, 0)
	f := clock.NewFake(start)
	late := f.NewTimer(3 * time.Second)
	early := f.NewTimer(time.Second)
	stopped := f.NewTimer(2 * time.Second)
	require.Equal(t, 3, f.Pending())
	next, ok := f.NextDue()
	require.True(t, ok)
	require.Equal(t, start.Add(time.Second), next)
	require.True(t, stopped.Stop())
	require.False(t, stopped.Stop(), "stopping twice reports false")

	f.Advance(999 * time.Millisecond)
	select {
	case <-early.C():
		t.Fatal("fired early")
	default:
	}
	f.Advance(time.Millisecond)
	require.Equal(t, start.Add(time.Second), <-early.C())
	f.Set(start.Add(10 * time.Second))
	require.Equal(t, start.Add(3*time.Second), <-late.C(), "a timer reports its due time")
	require.Equal(t, start.Add(10*time.Second), f.Now())
	require.Zero(t, f.Pending())
	require.False(t, late.Stop(), "already fired")
	_, ok = f.NextDue()
	require.False(t, ok)

	now := f.NewTimer(0)
	require.Equal(t, f.Now(), <-now.C(), "a zero timer fires at once")
}

func TestWaitForTimers(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(time.Unix(0, 0))
	armed := make(chan struct{})
	go func() {
		<-armed
		f.NewTimer(time.Minute)
	}()
	close(armed)
	require.True(t, f.WaitForTimers(1, t.Context().Done()))
	done := make(chan struct{})
	close(done)
	require.False(t, f.WaitForTimers(2, done), "gives up when done closes")
}

func TestRealClock(t *testing.T) {
	t.Parallel()
	var c clock.Clock = clock.Real{}
	require.WithinDuration(t, time.Now(), c.Now(), time.Second)
	tm := c.NewTimer(time.Hour)
	require.True(t, tm.Stop())
	tm = c.NewTimer(time.Millisecond)
	<-tm.C()
}
