package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/engine/enginetest"
	"github.com/herald-mq/herald/internal/queue"
)

func TestSendMessagesPriorityAndDelay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newService(t, enginetest.New(t))
	newQueue(t, s, queue.Queue{Name: "q"})
	ids, err := s.SendMessages(ctx, app, "q", []queue.Outgoing{
		{Body: []byte("a"), Priority: 3},
		{Body: []byte("later"), Delay: time.Hour, Priority: 16},
		{Body: []byte("b")},
	})
	require.NoError(t, err)
	require.Len(t, ids, 3)

	peeked, err := s.Peek(ctx, app, "q", 16)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, bodies(peeked), "the delayed message is not visible")
	require.Equal(t, 3, peeked[0].Priority)
	require.Equal(t, 0, peeked[1].Priority)
	require.Empty(t, peeked[0].Handle)
	require.Zero(t, peeked[0].DequeueCount)

	msgs := receive(t, s, "q", 16, 0)
	require.Equal(t, []string{"a", "b"}, bodies(msgs), "peeking took nothing")
	require.Equal(t, ids[0], msgs[0].ID)
	require.Equal(t, 3, msgs[0].Priority)
	require.Equal(t, 0, msgs[1].Priority)
	_, err = s.Peek(ctx, app, "q", 1)
	require.ErrorIs(t, err, queue.ErrNoMessage)
	_, err = s.Peek(ctx, app, "q", 17)
	require.ErrorIs(t, err, queue.ErrBadAttribute)
	_, err = s.Peek(ctx, app, "nope", 1)
	require.ErrorIs(t, err, queue.ErrQueueNotFound)
	_, st, err := s.Stats(ctx, app, "q")
	require.NoError(t, err)
	require.Equal(t, int64(1), st.Delayed)
}

func TestSendMessagesQueueDelay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newService(t, enginetest.New(t))
	newQueue(t, s, queue.Queue{Name: "q", DelaySeconds: 600})
	_, err := s.SendMessages(ctx, app, "q", []queue.Outgoing{{Body: []byte("x"), Delay: -1}, {Body: []byte("now"), Delay: 0}})
	require.NoError(t, err)
	msgs := receive(t, s, "q", 16, 0)
	require.Equal(t, []string{"now"}, bodies(msgs), "a negative delay is the queue's DelaySeconds")
	_, st, err := s.Stats(ctx, app, "q")
	require.NoError(t, err)
	require.Equal(t, int64(1), st.Delayed)

	_, err = s.SendMessages(ctx, app, "q", []queue.Outgoing{{Body: []byte("x")}, {Body: nil}})
	require.ErrorIs(t, err, queue.ErrEmptyMessage)
	_, err = s.SendMessages(ctx, app, "q", []queue.Outgoing{{Body: []byte("x"), Delay: 345601 * time.Second}})
	require.ErrorIs(t, err, queue.ErrDelayOutOfRange)
	_, err = s.CreateQueue(ctx, queue.Queue{AppID: app, Name: "short", MsgRetentionSeconds: 60, DelaySeconds: 61})
	require.ErrorIs(t, err, queue.ErrDelayOutOfRange)
	_, err = s.CreateQueue(ctx, queue.Queue{AppID: app, Name: "neg", DelaySeconds: -1})
	require.ErrorIs(t, err, queue.ErrBadAttribute)
}

func TestChangeVisibility(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newService(t, enginetest.New(t))
	newQueue(t, s, queue.Queue{Name: "q", VisibilityTimeout: 1})
	send(t, s, "q", "m")
	first := receive(t, s, "q", 1, 0)[0]

	// Longer than the queue's visibility timeout: the message stays away,
	// and the new handle deletes it.
	before := time.Now()
	h, next, err := s.ChangeVisibility(ctx, app, "q", first.Handle, time.Hour)
	require.NoError(t, err)
	require.NotEqual(t, first.Handle, h)
	require.WithinDuration(t, before.Add(time.Hour), next, 5*time.Second)
	_, err = s.Receive(ctx, app, "q", 1, 2500*time.Millisecond)
	require.ErrorIs(t, err, queue.ErrNoMessage, "still invisible after the queue's 1 s")
	_, _, err = s.ChangeVisibility(ctx, app, "q", first.Handle, time.Hour)
	require.ErrorIs(t, err, queue.ErrInvalidHandle, "a handle past its next visible time")
	errs, err := s.Delete(ctx, app, "q", []string{h})
	require.NoError(t, err)
	require.NoError(t, errs[0])
	_, st, err := s.Stats(ctx, app, "q")
	require.NoError(t, err)
	require.Zero(t, st.Active+st.Inactive)

	// Shorter: back after vt.
	newQueue(t, s, queue.Queue{Name: "r", VisibilityTimeout: 3600})
	send(t, s, "r", "m")
	got := receive(t, s, "r", 1, 0)[0]
	_, _, err = s.ChangeVisibility(ctx, app, "r", got.Handle, time.Second)
	require.NoError(t, err)
	again := receive(t, s, "r", 1, 10*time.Second)[0]
	require.Equal(t, got.ID, again.ID)
	require.Equal(t, 2, again.DequeueCount)

	_, _, err = s.ChangeVisibility(ctx, app, "r", "garbage", time.Second)
	require.ErrorIs(t, err, queue.ErrInvalidHandle)
	_, _, err = s.ChangeVisibility(ctx, app, "r", again.Handle, 0)
	require.ErrorIs(t, err, queue.ErrBadAttribute)
	_, _, err = s.ChangeVisibility(ctx, app, "nope", again.Handle, time.Second)
	require.ErrorIs(t, err, queue.ErrQueueNotFound)
}
