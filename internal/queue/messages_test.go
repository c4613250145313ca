package queue_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/engine/enginetest"
	"github.com/herald-mq/herald/internal/queue"
)

func TestCreateQueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newService(t, enginetest.New(t))
	q := newQueue(t, s, queue.Queue{Name: "Orders"})
	require.Equal(t, queue.Queue{
		AppID: app, Name: "Orders", ID: q.ID, MaxMsgHeapNum: 100_000_000, VisibilityTimeout: 30,
		MaxMsgSize: 65536, MsgRetentionSeconds: 345600, CreateTime: q.CreateTime, LastModifyTime: q.CreateTime, Key: q.Key,
	}, q)
	require.Regexp(t, `^queue-[0-9a-f]{16}$`, q.ID)

	_, err := s.CreateQueue(ctx, queue.Queue{AppID: app, Name: "oRDERS"})
	require.ErrorIs(t, err, queue.ErrQueueExists)
	_, err = s.CreateQueue(ctx, queue.Queue{AppID: app + 1, Name: "orders"})
	require.NoError(t, err, "names are per account")

	for _, bad := range []queue.Queue{
		{Name: "a", VisibilityTimeout: 43201},
		{Name: "a", MaxMsgSize: 1023},
		{Name: "a", PollingWaitSeconds: 31},
		{Name: "a", MsgRetentionSeconds: 59},
		{Name: "a", MaxMsgHeapNum: -1},
	} {
		bad.AppID = app
		_, err := s.CreateQueue(ctx, bad)
		require.ErrorIs(t, err, queue.ErrBadAttribute, "%+v", bad)
	}
	_, err = s.CreateQueue(ctx, queue.Queue{AppID: app, Name: "a", MsgRetentionSeconds: 60, RewindSeconds: 61})
	require.ErrorIs(t, err, queue.ErrRewindOverRetained)
	_, err = s.CreateQueue(ctx, queue.Queue{AppID: app, Name: "a", DeadLetterQueue: "nope", MaxReceiveCount: 3})
	require.ErrorIs(t, err, queue.ErrDeadLetterNotFound)
	_, err = s.CreateQueue(ctx, queue.Queue{AppID: app, Name: "a", DeadLetterQueue: "A", MaxReceiveCount: 3})
	require.ErrorIs(t, err, queue.ErrDeadLetterSelf)
	_, err = s.CreateQueue(ctx, queue.Queue{AppID: app, Name: "a", DeadLetterQueue: "orders"})
	require.ErrorIs(t, err, queue.ErrBadAttribute, "maxReceiveCount is required with a dead-letter queue")
	dl, err := s.CreateQueue(ctx, queue.Queue{AppID: app, Name: "a", DeadLetterQueue: "ORDERS", MaxReceiveCount: 3})
	require.NoError(t, err)
	require.Equal(t, "Orders", dl.DeadLetterQueue, "stored as the queue spells itself")
}

func TestListAndDeleteQueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	eng := enginetest.New(t)
	s := newService(t, eng)
	for _, n := range []string{"beta", "Alpha", "gamma-1", "gamma-2"} {
		newQueue(t, s, queue.Queue{Name: n})
	}
	total, page := s.ListQueues(app, "", 1, 2)
	require.Equal(t, 4, total)
	require.Equal(t, "beta", page[0].Name)
	require.Equal(t, "gamma-1", page[1].Name)
	total, page = s.ListQueues(app, "GAMMA", 0, 20)
	require.Equal(t, 2, total)
	require.Len(t, page, 2)
	total, page = s.ListQueues(app, "", 9, 20)
	require.Equal(t, 4, total)
	require.Empty(t, page)

	q, err := s.Queue(ctx, app, "beta")
	require.NoError(t, err)
	send(t, s, "beta", "x")
	require.NoError(t, s.DeleteQueue(ctx, app, "BETA"))
	require.ErrorIs(t, s.DeleteQueue(ctx, app, "beta"), queue.ErrQueueNotFound)
	require.ErrorIs(t, s.CheckQueue(ctx, app, "beta"), queue.ErrQueueNotFound)
	_, err = s.Send(ctx, app, "beta", [][]byte{[]byte("x")}, 0)
	require.ErrorIs(t, err, queue.ErrQueueNotFound)
	_, err = eng.JS.Stream(ctx, queue.StreamName(q))
	require.Error(t, err, "the stream goes with the queue")

	again := newQueue(t, s, queue.Queue{Name: "beta"})
	_, err = s.Receive(ctx, app, "beta", 1, 0)
	require.ErrorIs(t, err, queue.ErrNoMessage, "a re-created queue starts empty")
	require.NotEqual(t, q.ID, again.ID)
}

func TestSendLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newService(t, enginetest.New(t))
	newQueue(t, s, queue.Queue{Name: "q", MaxMsgSize: 1024, MaxMsgHeapNum: 3, MsgRetentionSeconds: 60})

	_, err := s.Send(ctx, app, "q", [][]byte{make([]byte, 1025)}, 0)
	require.ErrorIs(t, err, queue.ErrMessageTooBig)
	_, err = s.Send(ctx, app, "q", [][]byte{{}}, 0)
	require.ErrorIs(t, err, queue.ErrEmptyMessage)
	_, err = s.Send(ctx, app, "q", [][]byte{[]byte("x")}, 61*time.Second)
	require.ErrorIs(t, err, queue.ErrDelayOutOfRange)
	_, err = s.Send(ctx, app, "nope", [][]byte{[]byte("x")}, 0)
	require.ErrorIs(t, err, queue.ErrQueueNotFound)

	send(t, s, "q", "1", "2")
	_, err = s.Send(ctx, app, "q", [][]byte{[]byte("3"), []byte("4")}, 0)
	require.ErrorIs(t, err, queue.ErrHeapFull, "a batch that does not fit is refused whole")
	send(t, s, "q", "3")
	_, err = s.Send(ctx, app, "q", [][]byte{[]byte("4")}, 0)
	require.ErrorIs(t, err, queue.ErrHeapFull)
	require.ErrorIs(t, s.Enqueue(ctx, app, "q", []byte("4"), "m4"), queue.ErrHeapFull)

	msgs := receive(t, s, "q", 16, 0)
	require.Len(t, msgs, 3)
	_, err = s.Send(ctx, app, "q", [][]byte{[]byte("4")}, 0)
	require.ErrorIs(t, err, queue.ErrHeapFull, "received messages still count")
	_, err = s.Delete(ctx, app, "q", []string{msgs[0].Handle})
	require.NoError(t, err)
	queue.Purge(ctx, s)
	send(t, s, "q", "4")
}

// TestVisibility: a received message comes back after the visibility
// timeout with dequeueCount 2, and the first receipt handle no longer
// deletes it.
func TestVisibility(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newService(t, enginetest.New(t))
	newQueue(t, s, queue.Queue{Name: "q", VisibilityTimeout: 1})
	send(t, s, "q", "m")
	first := receive(t, s, "q", 1, 0)[0]
	require.Equal(t, 1, first.DequeueCount)

	_, err := s.Receive(ctx, app, "q", 1, 0)
	require.ErrorIs(t, err, queue.ErrNoMessage, "invisible until the visibility timeout")
	second := receive(t, s, "q", 1, 10*time.Second)[0] // long poll until it is back
	require.Equal(t, 2, second.DequeueCount)
	require.Equal(t, first.ID, second.ID)
	require.NotEqual(t, first.Handle, second.Handle)
	require.False(t, second.FirstDequeueTime.After(first.FirstDequeueTime.Add(time.Second)))

	errs, err := s.Delete(ctx, app, "q", []string{first.Handle})
	require.NoError(t, err)
	require.ErrorIs(t, errs[0], queue.ErrInvalidHandle, "a stale handle is refused")
	_, st, err := s.Stats(ctx, app, "q")
	require.NoError(t, err)
	require.Equal(t, int64(1), st.Inactive, "and the redelivered message is still there")

	errs, err = s.Delete(ctx, app, "q", []string{second.Handle})
	require.NoError(t, err)
	require.NoError(t, errs[0])
	_, st, err = s.Stats(ctx, app, "q")
	require.NoError(t, err)
	require.Zero(t, st.Inactive+st.Active)
}

func TestDeletePartialFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newService(t, enginetest.New(t))
	newQueue(t, s, queue.Queue{Name: "q"})
	other := newQueue(t, s, queue.Queue{Name: "other"})
	send(t, s, "q", "a", "b")
	send(t, s, "other", "z")
	msgs := receive(t, s, "q", 2, 0)
	foreign := receive(t, s, other.Name, 1, 0)[0]
	tampered := []byte(msgs[1].Handle)
	tampered[3] ^= 1
	errs, err := s.Delete(ctx, app, "q", []string{msgs[0].Handle, "not-a-handle", string(tampered), foreign.Handle, "", msgs[1].Handle})
	require.NoError(t, err)
	require.NoError(t, errs[0])
	for _, e := range errs[1:5] {
		require.ErrorIs(t, e, queue.ErrInvalidHandle)
	}
	require.NoError(t, errs[5])
	_, err = s.Delete(ctx, app, "nope", []string{msgs[0].Handle})
	require.ErrorIs(t, err, queue.ErrQueueNotFound)
}

// TestLongPollWakesOnSend: a receive waiting 30 s returns as soon as a
// message is sent.
func TestLongPollWakesOnSend(t *testing.T) {
	t.Parallel()
	s := newService(t, enginetest.New(t))
	newQueue(t, s, queue.Queue{Name: "q", PollingWaitSeconds: 30})
	waiting := make(chan struct{}, 1)
	queue.SetLongPollHook(s, func() { waiting <- struct{}{} })
	type result struct {
		msgs []queue.Message
		err  error
	}
	got := make(chan result, 1)
	go func() {
		msgs, err := s.Receive(context.Background(), app, "q", 16, -1) // the queue's 30 s
		got <- result{msgs, err}
	}()
	<-waiting
	send(t, s, "q", "wake")
	select {
	case r := <-got:
		require.NoError(t, r.err)
		require.Equal(t, []string{"wake"}, bodies(r.msgs))
	case <-time.After(10 * time.Second):
		t.Fatal("long poll did not return when a message arrived")
	}
}

func TestLongPollEndsWithContext(t *testing.T) {
	t.Parallel()
	s := newService(t, enginetest.New(t))
	newQueue(t, s, queue.Queue{Name: "q"})
	waiting := make(chan struct{}, 1)
	queue.SetLongPollHook(s, func() { waiting <- struct{}{} })
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() {
		_, err := s.Receive(ctx, app, "q", 1, 30*time.Second)
		got <- err
	}()
	<-waiting
	cancel()
	select {
	case err := <-got:
		require.Error(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("receive ignored its context")
	}
}

func TestDelay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newService(t, enginetest.New(t))
	newQueue(t, s, queue.Queue{Name: "q"})
	ids, err := s.Send(ctx, app, "q", [][]byte{[]byte("later")}, time.Second)
	require.NoError(t, err)
	_, err = s.Receive(ctx, app, "q", 1, 0)
	require.ErrorIs(t, err, queue.ErrNoMessage)
	_, st, err := s.Stats(ctx, app, "q")
	require.NoError(t, err)
	require.Equal(t, int64(1), st.Delayed)

	msgs := receive(t, s, "q", 1, 10*time.Second)
	require.Equal(t, "later", string(msgs[0].Body))
	require.Equal(t, ids[0], msgs[0].ID, "the msgId given at send")
	_, st, err = s.Stats(ctx, app, "q")
	require.NoError(t, err)
	require.Equal(t, queue.Stats{Inactive: 1, MinMsgTime: st.MinMsgTime}, st)
}

func TestSetVisibilityTimeout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	eng := enginetest.New(t)
	s := newService(t, eng)
	q := newQueue(t, s, queue.Queue{Name: "q", VisibilityTimeout: 60})
	send(t, s, "q", "a", "b")
	before := receive(t, s, "q", 1, 0)[0]

	updated, err := s.UpdateQueue(ctx, app, "q", func(q *queue.Queue) error { q.VisibilityTimeout = 1; return nil })
	require.NoError(t, err)
	require.Equal(t, 1, updated.VisibilityTimeout)
	c, err := eng.JS.Consumer(ctx, queue.StreamName(q), "q")
	require.NoError(t, err)
	require.Equal(t, time.Second, c.CachedInfo().Config.AckWait)

	errs, err := s.Delete(ctx, app, "q", []string{before.Handle})
	require.NoError(t, err)
	require.ErrorIs(t, errs[0], queue.ErrInvalidHandle, "handles from before a shorter timeout are void")

	after := receive(t, s, "q", 1, 0)[0]
	require.WithinDuration(t, time.Now().Add(time.Second), after.NextVisibleTime, 500*time.Millisecond)
	errs, err = s.Delete(ctx, app, "q", []string{after.Handle})
	require.NoError(t, err)
	require.NoError(t, errs[0])

	_, err = s.UpdateQueue(ctx, app, "q", func(q *queue.Queue) error { q.MaxMsgSize = 10; return nil })
	require.ErrorIs(t, err, queue.ErrBadAttribute)
	_, err = s.UpdateQueue(ctx, app, "nope", func(*queue.Queue) error { return nil })
	require.ErrorIs(t, err, queue.ErrQueueNotFound)
}

// TestDeadLetter: the receive after maxReceiveCount receives moves the
// message to the dead-letter queue instead of returning it.
func TestDeadLetter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newService(t, enginetest.New(t))
	newQueue(t, s, queue.Queue{Name: "dead"})
	newQueue(t, s, queue.Queue{Name: "q", VisibilityTimeout: 1, DeadLetterQueue: "dead", MaxReceiveCount: 1})
	ids := send(t, s, "q", "poison")
	require.Equal(t, 1, receive(t, s, "q", 1, 0)[0].DequeueCount)

	source := make(chan error, 1)
	go func() {
		_, err := s.Receive(ctx, app, "q", 1, 3*time.Second)
		source <- err
	}()
	moved := receive(t, s, "dead", 1, 10*time.Second)
	require.Equal(t, "poison", string(moved[0].Body))
	require.Equal(t, ids[0], moved[0].ID)
	require.Equal(t, 1, moved[0].DequeueCount)
	require.ErrorIs(t, <-source, queue.ErrNoMessage, "the source receive never sees it")
	_, st, err := s.Stats(ctx, app, "q")
	require.NoError(t, err)
	require.Zero(t, st.Active+st.Inactive)
}

func TestRewind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newService(t, enginetest.New(t))
	newQueue(t, s, queue.Queue{Name: "q", RewindSeconds: 600})
	newQueue(t, s, queue.Queue{Name: "plain"})
	require.ErrorIs(t, s.Rewind(ctx, app, "plain", time.Now()), queue.ErrCannotRewind)
	require.ErrorIs(t, s.Rewind(ctx, app, "q", time.Now().Add(-601*time.Second)), queue.ErrRewindTime)
	require.ErrorIs(t, s.Rewind(ctx, app, "q", time.Now().Add(time.Minute)), queue.ErrRewindTime)

	start := time.Now().Add(-time.Second)
	send(t, s, "q", "a", "b", "c")
	msgs := receive(t, s, "q", 16, 0)
	_, err := s.Delete(ctx, app, "q", []string{msgs[0].Handle, msgs[1].Handle})
	require.NoError(t, err)
	queue.Purge(ctx, s) // inside the rewind window nothing goes
	_, st, err := s.Stats(ctx, app, "q")
	require.NoError(t, err)
	require.Equal(t, int64(2), st.Rewindable)

	require.NoError(t, s.Rewind(ctx, app, "q", start))
	again := receive(t, s, "q", 16, 0)
	require.Equal(t, []string{"a", "b", "c"}, bodies(again), "deleted messages come back, in order")
	errs, err := s.Delete(ctx, app, "q", []string{msgs[2].Handle})
	require.NoError(t, err)
	require.ErrorIs(t, errs[0], queue.ErrInvalidHandle, "handles from before the rewind are void")
}

func TestPurgeKeepsUndeleted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newService(t, enginetest.New(t))
	newQueue(t, s, queue.Queue{Name: "q"})
	send(t, s, "q", "1", "2", "3", "4")
	msgs := receive(t, s, "q", 3, 0)
	// Delete 1 and 3: only 1 is below the ack floor and can go.
	_, err := s.Delete(ctx, app, "q", []string{msgs[0].Handle, msgs[2].Handle})
	require.NoError(t, err)
	queue.Purge(ctx, s)
	_, st, err := s.Stats(ctx, app, "q")
	require.NoError(t, err)
	require.Equal(t, int64(1), st.Active)
	require.Equal(t, int64(1), st.Inactive)
	require.Equal(t, int64(1), st.Rewindable, "3 waits for 2")
	rest := receive(t, s, "q", 16, 0)
	require.Equal(t, []string{"4"}, bodies(rest))
}

func TestEnqueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newService(t, enginetest.New(t))
	newQueue(t, s, queue.Queue{Name: "q", MaxMsgSize: 1024})
	sink := s
	require.NoError(t, sink.Enqueue(ctx, app, "Q", []byte("from topic"), "topic-msg-1"))
	require.NoError(t, sink.Enqueue(ctx, app, "q", []byte("from topic"), "topic-msg-1"), "a retried delivery")
	require.ErrorIs(t, sink.Enqueue(ctx, app, "nope", []byte("x"), "m"), queue.ErrQueueNotFound)
	require.ErrorIs(t, sink.Enqueue(ctx, app, "q", make([]byte, 1025), "m"), queue.ErrMessageTooBig)
	require.ErrorIs(t, sink.Enqueue(ctx, app, "nope", []byte("x"), "m"), queue.ErrNotStorable)
	require.ErrorIs(t, sink.Enqueue(ctx, app, "q", make([]byte, 1025), "m"), queue.ErrNotStorable)
	msgs := receive(t, s, "q", 16, 0)
	require.Len(t, msgs, 1, "stored once")
	require.Equal(t, "topic-msg-1", msgs[0].ID)
}

// TestTwoProcesses: queues created, sent to and received from through one
// service are served by another on the same engine.
func TestTwoProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	eng := enginetest.New(t)
	a, b := newService(t, eng), newService(t, eng)
	newQueue(t, a, queue.Queue{Name: "shared"})
	send(t, b, "shared", "x")
	m := receive(t, a, "shared", 1, 0)[0]
	errs, err := b.Delete(ctx, app, "shared", []string{m.Handle})
	require.NoError(t, err)
	require.NoError(t, errs[0])
	_, err = a.Receive(ctx, app, "shared", 1, 0)
	require.ErrorIs(t, err, queue.ErrNoMessage)
}

// TestRestart: every acknowledged send survives reopening the engine, and
// nothing deleted comes back.
func TestRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	eng := enginetest.Open(t, dir)
	s := newService(t, eng)
	newQueue(t, s, queue.Queue{Name: "q", VisibilityTimeout: 1})
	var sent []string
	for i := range 5 {
		batch := make([]string, 10)
		for j := range batch {
			batch[j] = strconv.Itoa(i*10 + j)
		}
		send(t, s, "q", batch...)
		sent = append(sent, batch...)
	}
	got := receive(t, s, "q", 16, 0)
	deleted := map[string]bool{}
	var handles []string
	for _, m := range got[:10] {
		deleted[string(m.Body)] = true
		handles = append(handles, m.Handle)
	}
	_, err := s.Delete(ctx, app, "q", handles)
	require.NoError(t, err)
	require.NoError(t, s.Stop(ctx))
	require.NoError(t, eng.Close())

	s2 := newService(t, enginetest.Open(t, dir))
	seen := map[string]bool{}
	for len(seen) < len(sent)-len(deleted) {
		msgs, err := s2.Receive(ctx, app, "q", 16, 5*time.Second)
		require.NoError(t, err, "have %d of %d", len(seen), len(sent)-len(deleted))
		var hs []string
		for _, m := range msgs {
			require.False(t, deleted[string(m.Body)], "deleted message %s came back", m.Body)
			seen[string(m.Body)] = true
			hs = append(hs, m.Handle)
		}
		_, err = s2.Delete(ctx, app, "q", hs)
		require.NoError(t, err)
	}
	for _, b := range sent {
		require.True(t, seen[b] || deleted[b], "message %s lost", b)
	}
	_, err = s2.Receive(ctx, app, "q", 1, 0)
	require.ErrorIs(t, err, queue.ErrNoMessage)
}

// TestConsumerStateLost: when the engine comes back without the consumer's
// state (kill -9 before it was written), a process that starts afterwards
// still never hands out a deleted or dead-lettered message, and counts
// every earlier delivery in dequeueCount.
func TestConsumerStateLost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	eng := enginetest.New(t)
	s := newService(t, eng)
	newQueue(t, s, queue.Queue{Name: "dead"})
	q := newQueue(t, s, queue.Queue{Name: "q", DeadLetterQueue: "dead", MaxReceiveCount: 2})
	send(t, s, "q", "a", "b", "c", "d")
	first := receive(t, s, "q", 16, 0)
	require.Equal(t, []string{"a", "b", "c", "d"}, bodies(first))
	_, err := s.Delete(ctx, app, "q", []string{first[0].Handle, first[2].Handle})
	require.NoError(t, err)

	require.NoError(t, queue.ForgetConsumerState(ctx, s, q))
	s2 := newService(t, eng)
	again := receive(t, s2, "q", 16, 0)
	require.Equal(t, []string{"b", "d"}, bodies(again), "deleted messages stay deleted")
	for _, m := range again {
		require.Equal(t, 2, m.DequeueCount, "%s: the delivery before the loss counts", m.Body)
	}
	_, st, err := s2.Stats(ctx, app, "q")
	require.NoError(t, err)
	require.Equal(t, queue.Stats{Inactive: 2, Rewindable: 2, MinMsgTime: st.MinMsgTime}, st, "records are not messages")

	// Received twice now: the next receive dead-letters them, even after
	// the state is lost again.
	require.NoError(t, queue.ForgetConsumerState(ctx, s, q))
	s3 := newService(t, eng)
	_, err = s3.Receive(ctx, app, "q", 16, 0)
	require.ErrorIs(t, err, queue.ErrNoMessage)
	dead := receive(t, s3, "dead", 16, 0)
	require.Equal(t, []string{"b", "d"}, bodies(dead))
	require.NoError(t, queue.ForgetConsumerState(ctx, s, q))
	_, err = newService(t, eng).Receive(ctx, app, "q", 16, 0)
	require.ErrorIs(t, err, queue.ErrNoMessage, "dead-lettered messages stay out")
}
