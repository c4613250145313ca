package workqueue

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Acknowledgement subjects as nats-server writes them: the v1 form, and the
// v2 form with domain and account hash (and a trailing random token).
func TestParseDelivery(t *testing.T) {
	t.Parallel()
	stored := time.Unix(0, 1700000000123456789)
	want := Delivery{StreamSeq: 42, ConsumerSeq: 7, Delivered: 3, Stored: stored}
	for _, tc := range []struct {
		reply string
		want  Delivery
		ok    bool
	}{
		{"$JS.ACK.HERALD_Q_ab.q.3.42.7.1700000000123456789.0", want, true},
		{"$JS.ACK._.ACCHASH.HERALD_Q_ab.q.3.42.7.1700000000123456789.0.RND", want, true},
		{"$JS.ACK.HERALD_Q_ab.q.3.x.7.1700000000123456789.0", Delivery{}, false},
		{"$JS.ACK.short.1.2", Delivery{}, false},
		{"_INBOX.abc", Delivery{}, false},
		{"", Delivery{}, false},
	} {
		got, ok := parseDelivery(tc.reply)
		require.Equal(t, tc.ok, ok, tc.reply)
		require.Equal(t, tc.want, got, tc.reply)
	}
}

// A receipt's acknowledgement subject is the v1 subject the engine would
// have written for the delivery, which parses back to the receipt.
func TestAckSubjectRoundTrip(t *testing.T) {
	t.Parallel()
	q := (&Engine{}).Queue("HERALD_Q_ab", "q")
	r := Receipt{Delivered: 3, StreamSeq: 42, ConsumerSeq: 7}
	subj := q.ackSubject(r)
	require.Equal(t, "$JS.ACK.HERALD_Q_ab.q.3.42.7.0.0", subj)
	d, ok := parseDelivery(subj)
	require.True(t, ok)
	require.Equal(t, r, Receipt{Delivered: d.Delivered, StreamSeq: d.StreamSeq, ConsumerSeq: d.ConsumerSeq})
}

func TestPullErr(t *testing.T) {
	t.Parallel()
	require.ErrorIs(t, pullErr("409", "Exceeded MaxWaiting"), ErrTooManyWaiting)
	require.ErrorIs(t, pullErr("409", "Consumer Deleted"), ErrGone)
	require.ErrorContains(t, pullErr("503", ""), "no responders")
	require.EqualError(t, pullErr("400", "Bad Request"), "workqueue: pull: engine answered 400 Bad Request")
}
