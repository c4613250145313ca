package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The ledger's figures from a scripted history on a fake clock: what counts
// as lost, as a duplicate (in flight at a kill or not) and as came back.
func TestLedgerFigures(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	at := func(ms int) { now = time.Unix(1_000_000, 0).Add(time.Duration(ms) * time.Millisecond) }
	l := newLedger(func() time.Time { return now }, "fast", "slow")
	deliver := func(sub, id string) { l.Answered(l.PushArrived(sub, id)) }

	at(0)
	for _, id := range []string{"m1", "m2", "m3", "m4"} {
		l.Published(id)
	}
	// m1: the slow push abandoned by herald, then pushed again: no duplicate.
	deliver("fast", "m1")
	l.PushArrived("slow", "m1")
	deliver("slow", "m1")
	// m2: answered 50 ms before a kill, pushed again: in flight at the kill.
	at(950)
	deliver("fast", "m2")
	deliver("slow", "m2")
	// m3: answered 500 ms before the kill, pushed twice again: two plain
	// duplicates of one message to one subscription.
	at(500)
	deliver("fast", "m3")
	deliver("slow", "m3")
	at(1000)
	l.Crashed()
	at(2000)
	deliver("fast", "m2")
	deliver("fast", "m3")
	deliver("fast", "m3")
	// m4 reaches fast only: lost. A push of an unacknowledged message counts
	// for nothing.
	deliver("fast", "m4")
	deliver("slow", "x")
	pushes, sends := l.Outstanding()
	require.Equal(t, 1, pushes)
	require.Zero(t, sends)

	// q1 is deleted and received again by a later request, with its
	// dequeueCount back at 1; q2 is received by a request sent before the
	// delete of an earlier receive was acknowledged; q3 is never received.
	at(3000)
	l.Sent("q1")
	l.Sent("q2")
	l.Sent("q3")
	first := receipt{requested: now, dequeueCount: 1}
	l.Received("q1", first)
	l.Received("q2", first)
	at(3100)
	concurrent := receipt{requested: now, dequeueCount: 2}
	at(3200)
	l.Deleted("q1", first)
	l.Deleted("q2", first)
	l.Received("q2", concurrent)
	at(4000)
	l.Received("q1", receipt{requested: now, dequeueCount: 1})
	pushes, sends = l.Outstanding()
	require.Equal(t, 1, pushes)
	require.Equal(t, 1, sends)

	f := l.Figures(100 * time.Millisecond)
	require.Equal(t, figures{
		Published: 4, Lost: 1, Duplicated: 3, DupPairs: 2, DupByCrash: 1, DupBySub: map[string]int{"fast": 3},
		Sent: 3, SendLost: 1, Deleted: 2, CameBack: 1, CameBackDQ: 1,
	}, f)
	require.Equal(t, []figure{
		{figPublishLost, 1}, {figSendLost, 1}, {figCameBack, 1}, {figDuplicated, 3}, {figDupNotInFlight, 2},
	}, f.List())
}
