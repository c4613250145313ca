// Package conformance is the suite every engine herald runs on must pass:
// one function per building block (kv, stream, workqueue, schedule), each
// run against the embedded engine and against a 3-node nats-server
// cluster, where JetStream behaves differently (replicated atomic batches,
// per-key TTL markers, message schedules, acks on a replicated consumer).
package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/engine"
	"github.com/herald-mq/herald/internal/engine/kv"
	"github.com/herald-mq/herald/internal/engine/schedule"
	"github.com/herald-mq/herald/internal/engine/stream"
	"github.com/herald-mq/herald/internal/engine/workqueue"
)

// Open returns an engine for one test; it closes when the test ends.
type Open func(t *testing.T) *engine.Engine

// Run runs the whole suite.
func Run(t *testing.T, open Open) {
	t.Run("KV", func(t *testing.T) { t.Parallel(); TestKV(t, open) })
	t.Run("Follower", func(t *testing.T) { t.Parallel(); TestFollower(t, open) })
	t.Run("Publisher", func(t *testing.T) { t.Parallel(); TestPublisher(t, open) })
	t.Run("WorkQueue", func(t *testing.T) { t.Parallel(); TestWorkQueue(t, open) })
	t.Run("Schedule", func(t *testing.T) { t.Parallel(); TestSchedule(t, open) })
	t.Run("Consumer", func(t *testing.T) { t.Parallel(); TestConsumer(t, open) })
}

// unique is a name no other test uses, for buckets and streams shared on a
// cluster.
func unique(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "_" + strings.ToUpper(hex.EncodeToString(b))
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestKV covers create, get, compare-and-set update and delete, put, keys, and
// purge with a marker that expires (per-key TTL).
func TestKV(t *testing.T, open Open) {
	eng := open(t)
	ctx := ctxFor(t)
	b, err := eng.Bucket(ctx, unique("kv"), 1)
	require.NoError(t, err)

	_, err = b.Get(ctx, "a.1")
	require.ErrorIs(t, err, kv.ErrKeyNotFound)
	rev, err := b.Create(ctx, "a.1", []byte("one"))
	require.NoError(t, err)
	_, err = b.Create(ctx, "a.1", []byte("again"))
	require.ErrorIs(t, err, kv.ErrKeyExists)
	e, err := b.Get(ctx, "a.1")
	require.NoError(t, err)
	require.Equal(t, kv.Entry{Key: "a.1", Value: []byte("one"), Revision: rev}, e)

	rev2, err := b.Update(ctx, "a.1", []byte("two"), rev)
	require.NoError(t, err)
	require.Greater(t, rev2, rev)
	_, err = b.Update(ctx, "a.1", []byte("stale"), rev)
	require.ErrorIs(t, err, kv.ErrWrongRevision)
	require.ErrorIs(t, b.DeleteAt(ctx, "a.1", rev), kv.ErrWrongRevision)

	_, err = b.Put(ctx, "a.2", []byte("x"))
	require.NoError(t, err)
	_, err = b.Put(ctx, "b.1", []byte("y"))
	require.NoError(t, err)
	keys, err := b.Keys(ctx, "a.*")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"a.1", "a.2"}, keys)

	require.NoError(t, b.DeleteAt(ctx, "a.1", rev2))
	_, err = b.Get(ctx, "a.1")
	require.ErrorIs(t, err, kv.ErrKeyNotFound)
	_, err = b.Create(ctx, "a.1", []byte("back"))
	require.NoError(t, err, "a deleted key can be created again")

	// Purge with a marker TTL: the key is gone at once and its marker goes
	// after the TTL, leaving no trace of the key in the bucket.
	require.NoError(t, b.Purge(ctx, "a.2", time.Second))
	_, err = b.Get(ctx, "a.2")
	require.ErrorIs(t, err, kv.ErrKeyNotFound)
	f, err := kv.Follow(ctx, b, func(kv.Entry) {})
	require.NoError(t, err)
	f.Close()
	require.Eventually(t, func() bool {
		seen := false
		f, err := kv.Follow(ctx, b, func(e kv.Entry) { seen = seen || e.Key == "a.2" })
		if err != nil {
			return false
		}
		f.Close()
		return !seen
	}, 15*time.Second, 100*time.Millisecond, "the purge marker expires")
}

// TestFollower checks that Follow applies what is stored before returning, then every
// change in order; writers wait for their revision; deletes are marked.
func TestFollower(t *testing.T, open Open) {
	eng := open(t)
	ctx := ctxFor(t)
	b, err := eng.Bucket(ctx, unique("follow"), 1)
	require.NoError(t, err)
	first, err := b.Put(ctx, "k1", []byte("v1"))
	require.NoError(t, err)

	got := make(chan kv.Entry, 16)
	f, err := kv.Follow(ctx, b, func(e kv.Entry) { got <- e })
	require.NoError(t, err)
	defer f.Close()
	require.Equal(t, first, f.Revision(), "caught up before Follow returned")
	require.Equal(t, kv.Entry{Key: "k1", Value: []byte("v1"), Revision: first}, <-got)

	rev, err := b.Put(ctx, "k2", []byte("v2"))
	require.NoError(t, err)
	require.NoError(t, f.WaitRevision(ctx, rev))
	require.Equal(t, kv.Entry{Key: "k2", Value: []byte("v2"), Revision: rev}, <-got)

	require.NoError(t, b.Delete(ctx, "k1"))
	e := <-got
	require.Equal(t, "k1", e.Key)
	require.True(t, e.Deleted)
	require.Empty(t, e.Value)

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, f.WaitRevision(short, rev+100), context.DeadlineExceeded)
}

// TestPublisher checks that messages acknowledged one by one keep order and headers;
// a refusal names its message; an atomic batch is stored whole or not at
// all; a stream without atomic batches refuses one.
func TestPublisher(t *testing.T, open Open) {
	eng := open(t)
	ctx := ctxFor(t)
	name := unique("PUB")
	cfg := stream.Config{Name: name, Subjects: []string{strings.ToLower(name) + ".>"}, MaxMsgSize: 1024, AllowAtomic: true}
	s, err := eng.OpenStream(ctx, cfg)
	require.NoError(t, err)
	require.Equal(t, eng.Replicas() > 1, s.Replicated())
	require.True(t, s.AllowsAtomic())
	p, err := eng.Publisher()
	require.NoError(t, err)
	subject := strings.ToLower(name) + ".a"
	fill := func(bodies []string) func(int, *stream.Msg) {
		h := stream.Header{}
		return func(i int, m *stream.Msg) {
			h.Set("X-Index", strconv.Itoa(i))
			m.Subject, m.Header, m.Data = subject, h, []byte(bodies[i])
		}
	}
	count := func() uint64 {
		n, err := s.SubjectCount(ctx, subject)
		require.NoError(t, err)
		return n
	}

	require.NoError(t, p.Each(ctx, 3, 10*time.Second, fill([]string{"m1", "m2", "m3"})))
	for i := range 3 {
		m, err := s.Get(ctx, uint64(i+1))
		require.NoError(t, err)
		require.Equal(t, "m"+strconv.Itoa(i+1), string(m.Data))
		require.Equal(t, strconv.Itoa(i), m.Header.Get("X-Index"))
	}
	big := strings.Repeat("b", 2000)
	err = p.Each(ctx, 3, 10*time.Second, fill([]string{"ok", big, "ok"}))
	require.ErrorContains(t, err, "message 2 not stored")
	// Each returns at the first refusal; the message after it may still be
	// on its way to the (replicated) stream.
	require.Eventually(t, func() bool { return count() == 5 }, 10*time.Second, 10*time.Millisecond, "m1–m3 and the two that fit")

	before := count()
	require.NoError(t, p.Atomic(ctx, unique("b"), 4, 10*time.Second, fill([]string{"a1", "a2", "a3", "a4"})))
	require.Equal(t, before+4, count())
	last, err := s.Last(ctx, subject)
	require.NoError(t, err)
	require.Equal(t, "a4", string(last.Data))

	before = count()
	err = p.Atomic(ctx, unique("b"), 4, 10*time.Second, fill([]string{"x1", "x2", big, "x4"}))
	require.Error(t, err)
	require.Equal(t, before, count(), "nothing of a refused batch is stored")

	cfg.AllowAtomic = false
	_, err = eng.OpenStream(ctx, cfg)
	require.NoError(t, err)
	err = p.Atomic(ctx, unique("b"), 2, 10*time.Second, fill([]string{"y1", "y2"}))
	require.ErrorIs(t, err, stream.ErrAtomicDisabled)
	require.Equal(t, before, count())

	require.NoError(t, s.Purge(ctx, subject, 0))
	require.Zero(t, count())
	_, err = s.Get(ctx, 1)
	require.ErrorIs(t, err, stream.ErrNotFound)
}

// TestWorkQueue covers pull with a long-poll wait, ack, nak (now and after a
// delay), term, acks by receipt, the waiting limit, and a queue deleted
// under its pullers.
func TestWorkQueue(t *testing.T, open Open) {
	eng := open(t)
	ctx := ctxFor(t)
	wq := eng.WorkQueues()
	name := unique("WQ")
	subj := strings.ToLower(name)
	q := wq.Queue(name, "c")
	cc := workqueue.ConsumerConfig{Filter: subj + ".m", AckWait: 30 * time.Second, MaxWaiting: 1}
	require.NoError(t, q.Create(ctx, stream.Config{Subjects: []string{subj + ".>"}, AllowDirect: true}, cc))
	send := func(bodies ...string) []uint64 {
		msgs := make([]stream.Msg, len(bodies))
		for i, b := range bodies {
			msgs[i] = stream.Msg{Subject: subj + ".m", Data: []byte(b)}
		}
		seqs, err := wq.Publish(ctx, msgs)
		require.NoError(t, err)
		return seqs
	}
	pull := func(n int, wait time.Duration) []*workqueue.Msg {
		msgs, err := q.Pull(ctx, n, wait, nil)
		require.NoError(t, err)
		return msgs
	}
	bodies := func(msgs []*workqueue.Msg) []string {
		var out []string
		for _, m := range msgs {
			out = append(out, string(m.Data()))
		}
		return out
	}

	require.Empty(t, pull(1, 100*time.Millisecond), "an empty queue answers when the wait ends")

	// A pull waiting for a message gets it as soon as it is stored.
	got := make(chan []*workqueue.Msg, 1)
	waiting := make(chan struct{})
	go func() {
		msgs, _ := q.Pull(ctx, 1, 20*time.Second, func() { close(waiting) })
		got <- msgs
	}()
	<-waiting
	seqs := send("first")
	msgs := <-got
	require.Equal(t, []string{"first"}, bodies(msgs))
	require.Equal(t, workqueue.Delivery{StreamSeq: seqs[0], ConsumerSeq: 1, Delivered: 1, Stored: msgs[0].Delivery.Stored}, msgs[0].Delivery)
	require.WithinDuration(t, time.Now(), msgs[0].Delivery.Stored, time.Minute)
	require.NoError(t, msgs[0].Ack())

	// Nak: delivered again at once, with the delivery counted.
	send("again")
	m := pull(1, 5*time.Second)
	require.NoError(t, m[0].Nak())
	m = pull(1, 5*time.Second)
	require.Equal(t, []string{"again"}, bodies(m))
	require.Equal(t, uint64(2), m[0].Delivery.Delivered)
	require.NoError(t, m[0].InProgress())

	// NakAfter: not delivered before the delay. A message sent after the
	// nak comes first.
	require.NoError(t, m[0].NakAfter(time.Second))
	send("meanwhile")
	next := pull(1, 5*time.Second)
	require.Equal(t, []string{"meanwhile"}, bodies(next))
	require.NoError(t, next[0].Ack())
	m = pull(1, 10*time.Second)
	require.Equal(t, []string{"again"}, bodies(m))
	require.Equal(t, uint64(3), m[0].Delivery.Delivered)

	// Term: never delivered again; the next pull gets a later message.
	require.NoError(t, m[0].Term("test"))
	send("after term")
	m = pull(1, 5*time.Second)
	require.Equal(t, []string{"after term"}, bodies(m))

	// Acks by receipt (another process's receipt handles).
	send("r1", "r2")
	more := pull(2, 5*time.Second)
	require.Len(t, more, 2)
	receipts := []workqueue.Receipt{m[0].Receipt(), more[0].Receipt(), more[1].Receipt()}
	require.NoError(t, q.AckReceipts(ctx, receipts))
	st, err := q.State(ctx, subj+".m")
	require.NoError(t, err)
	require.Zero(t, st.AckPending)
	require.Zero(t, st.Pending)
	require.Equal(t, more[1].Delivery.StreamSeq, st.AckFloor)

	// Direct reads on another subject of the stream.
	_, err = wq.Publish(ctx, []stream.Msg{{Subject: subj + ".r", Data: []byte("rec1")}, {Subject: subj + ".r", Data: []byte("rec2")}})
	require.NoError(t, err)
	n, err := q.CountFrom(ctx, subj+".r")
	require.NoError(t, err)
	require.Equal(t, int64(2), n)
	var scanned []string
	require.NoError(t, q.Scan(ctx, subj+".r", 0, func(_ uint64, data []byte) error {
		scanned = append(scanned, string(data))
		return nil
	}))
	require.Equal(t, []string{"rec1", "rec2"}, scanned)
	seq, err := q.FirstAt(ctx, subj+".m", time.Now().Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, st.LastSeq+3, seq, "no message after the time: the next sequence")

	// MaxWaiting 1: a second pull while one waits is refused.
	waiting = make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := q.Pull(ctx, 1, 20*time.Second, func() { close(waiting) })
		done <- err
	}()
	<-waiting
	require.Eventually(t, func() bool {
		_, err := q.Pull(ctx, 1, time.Second, nil)
		return errors.Is(err, workqueue.ErrTooManyWaiting)
	}, 10*time.Second, 50*time.Millisecond)

	// Deleting the queue ends the waiting pull; later pulls fail (nothing
	// answers for the consumer: gone, or without a leader for now).
	require.NoError(t, q.Delete(ctx))
	select {
	case err := <-done:
		t.Logf("the waiting pull ended with %v", err)
	case <-time.After(25 * time.Second):
		t.Fatal("the waiting pull did not end")
	}
	_, err = q.Pull(ctx, 1, 100*time.Millisecond, nil)
	require.Error(t, err)
	_, err = q.StreamState(ctx, "")
	require.ErrorIs(t, err, workqueue.ErrNoStream)
}

// TestSchedule checks that a scheduled message reaches its target when due; one that
// replaces leaves one on its subject; a canceled one never comes.
func TestSchedule(t *testing.T, open Open) {
	eng := open(t)
	ctx := ctxFor(t)
	wq := eng.WorkQueues()
	name := unique("SCHED")
	subj := strings.ToLower(name)
	q := wq.Queue(name, "due")
	require.NoError(t, q.Create(ctx, stream.Config{
		Subjects: []string{subj + ".due.>", subj + ".sched.>"}, WorkQueue: true, AllowSchedules: true, AllowRollup: true,
	}, workqueue.ConsumerConfig{Filter: subj + ".due.>", AckWait: 30 * time.Second, MaxWaiting: 10}))
	sch, err := schedule.New(ctx, eng.JS, name)
	require.NoError(t, err)

	// Canceled: gone, and a second cancel finds nothing.
	far, err := sch.Schedule(ctx, schedule.Msg{Subject: subj + ".sched.far", Target: subj + ".due.x", At: time.Now().Add(time.Hour), Data: []byte("never")})
	require.NoError(t, err)
	require.NoError(t, sch.Cancel(ctx, far))
	require.ErrorIs(t, sch.Cancel(ctx, far), schedule.ErrNotFound)

	// Replace: a renewed schedule is the only one on its subject.
	for i := range 3 {
		_, err := sch.Schedule(ctx, schedule.Msg{Subject: subj + ".sched.lease", Target: subj + ".due.x", At: time.Now().Add(time.Hour), Data: []byte("lease " + strconv.Itoa(i)), Replace: true})
		require.NoError(t, err)
	}
	n, err := sch.Count(ctx, subj+".sched.>")
	require.NoError(t, err)
	require.Equal(t, uint64(1), n)

	// Due: the message reaches the target and is pulled from there.
	at := time.Now().Add(500 * time.Millisecond)
	_, err = sch.Schedule(ctx, schedule.Msg{Subject: subj + ".sched.soon", Target: subj + ".due.x", At: at, Data: []byte("due")})
	require.NoError(t, err)
	msgs, err := q.Pull(ctx, 1, 20*time.Second, nil)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.Equal(t, "due", string(msgs[0].Data()))
	require.False(t, time.Now().Before(at.Add(-100*time.Millisecond)), "not delivered long before it was due")
	require.NoError(t, msgs[0].Ack())
	require.Eventually(t, func() bool {
		n, err := sch.Count(ctx, subj+".sched.soon")
		return err == nil && n == 0
	}, 10*time.Second, 50*time.Millisecond, "the schedule is gone once it fired")
}

// TestConsumer checks that a consumer pushes each message to its handler with its
// delivery; a confirmed nak with a delay brings it back, counted; a
// confirmed ack settles it; a drained consumption closes.
func TestConsumer(t *testing.T, open Open) {
	eng := open(t)
	ctx := ctxFor(t)
	name := unique("CONS")
	subj := strings.ToLower(name)
	_, err := eng.OpenStream(ctx, stream.Config{Name: name, Subjects: []string{subj + ".>"}, WorkQueue: true})
	require.NoError(t, err)
	c, err := eng.Consumer(ctx, name, workqueue.ConsumerConfig{Name: "c", Filter: subj + ".>", AckWait: 30 * time.Second, MaxAckPending: 10})
	require.NoError(t, err)
	require.Equal(t, "c", c.Name())
	got := make(chan *workqueue.Msg, 10)
	run, err := c.Consume(func(m *workqueue.Msg) { got <- m }, 10, func(error) {})
	require.NoError(t, err)
	seqs, err := eng.WorkQueues().Publish(ctx, []stream.Msg{{Subject: subj + ".a", Header: stream.Header{"K": {"v"}}, Data: []byte("x")}})
	require.NoError(t, err)
	recvMsg := func() *workqueue.Msg {
		select {
		case m := <-got:
			return m
		case <-time.After(20 * time.Second):
			t.Fatal("no message")
			return nil
		}
	}
	m := recvMsg()
	require.Equal(t, "x", string(m.Data()))
	require.Equal(t, subj+".a", m.Subject())
	require.Equal(t, "v", m.Header().Get("K"))
	require.Equal(t, seqs[0], m.Delivery.StreamSeq)
	require.Equal(t, uint64(1), m.Delivery.Delivered)
	require.NoError(t, m.NakAfterSync(ctx, time.Millisecond))
	m = recvMsg()
	require.Equal(t, uint64(2), m.Delivery.Delivered)
	require.NoError(t, m.AckSync(ctx))
	s, err := eng.OpenStream(ctx, stream.Config{Name: name, Subjects: []string{subj + ".>"}, WorkQueue: true})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		n, err := s.SubjectCount(ctx, subj+".a")
		return err == nil && n == 0
	}, 10*time.Second, 20*time.Millisecond, "an acknowledged message leaves a work-queue stream")
	run.Drain()
	select {
	case <-run.Closed():
	case <-time.After(20 * time.Second):
		t.Fatal("the drained consumption did not close")
	}
}
