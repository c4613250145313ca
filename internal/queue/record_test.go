package queue

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRecordRoundTrip(t *testing.T) {
	t.Parallel()
	q := &Queue{ID: "queue-0123abcd", Rewinds: 3}
	type named struct {
		seq uint64
		r   record
	}
	for _, tc := range []struct {
		msg  []byte
		want []named
	}{
		{receivedRecord(q, []uint64{7, 9}, []uint64{1, 4}).Data, []named{{7, record{recordReceived, 3, 1}}, {9, record{recordReceived, 3, 4}}}},
		{deletedRecord(q, []uint64{12}).Data, []named{{12, record{kind: recordDeleted, rewinds: 3}}}},
	} {
		var got []named
		require.NoError(t, parseRecord(tc.msg, func(seq uint64, r record) { got = append(got, named{seq, r}) }), "%s", tc.msg)
		require.Equal(t, tc.want, got, "%s", tc.msg)
	}
	require.Equal(t, "herald.q.0123abcd.r", receivedRecord(q, []uint64{1}, []uint64{1}).Subject)
	require.Equal(t, "n 3 7:1 9:4", string(receivedRecord(q, []uint64{7, 9}, []uint64{1, 4}).Data))
	require.Equal(t, "d 3 12 13", string(deletedRecord(q, []uint64{12, 13}).Data))
}

func TestRecordRejects(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"", "n", "n 0", "d 0", "x 0 1", "nn 0 1:1", "n -1 1:1", "n 0 1", "n 0 1:0", "n 0 1:x", "n 0 :1",
		"d 0 1:1", "d 0 x", "d x 1",
	} {
		err := parseRecord([]byte(in), func(uint64, record) {})
		require.ErrorIs(t, err, errRecordFormat, "%q", in)
	}
}
