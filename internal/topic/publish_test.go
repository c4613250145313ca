package topic_test

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/delivery"
	"github.com/herald-mq/herald/internal/engine"
	"github.com/herald-mq/herald/internal/engine/enginetest"
	"github.com/herald-mq/herald/internal/engine/stream"
	"github.com/herald-mq/herald/internal/topic"
)

const testApp = 1000000

type streamFunc = func(context.Context, stream.Config) (*stream.Stream, error)

// engineWith is the engine with its streams opened by open.
type engineWith struct {
	*engine.Engine
	open streamFunc
}

func (e engineWith) OpenStream(ctx context.Context, cfg stream.Config) (*stream.Stream, error) {
	return e.open(ctx, cfg)
}

// pubRig is a store with topic "t" and one subscription, and a publisher.
type pubRig struct {
	eng   *engine.Engine
	store *topic.Store
	pub   *topic.Publisher
	topic topic.Topic
}

func newPubRig(t *testing.T, eng *engine.Engine, cfg topic.PublisherConfig, stream streamFunc) *pubRig {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	tkv, err := eng.Bucket(ctx, topic.TopicBucket, 1)
	require.NoError(t, err)
	skv, err := eng.Bucket(ctx, topic.SubscriptionBucket, 1)
	require.NoError(t, err)
	store, err := topic.OpenStore(ctx, tkv, skv, clock.Real{}, log)
	require.NoError(t, err)
	t.Cleanup(store.Close)
	if stream == nil {
		stream = eng.OpenStream
	}
	pub, err := topic.NewPublisherWith(ctx, cfg, store, engineWith{eng, stream})
	require.NoError(t, err)
	tp, err := store.Topic(ctx, testApp, "t")
	if err != nil {
		tp, err = store.CreateTopic(ctx, topic.Topic{AppID: testApp, Name: "t", MaxMsgSize: 65536, FilterType: topic.FilterTag})
		require.NoError(t, err)
		_, err = store.Subscribe(ctx, topic.Subscription{
			AppID: testApp, TopicName: "t", Name: "s", Protocol: topic.ProtocolHTTP, Endpoint: "http://e.example",
			NotifyStrategy: topic.BackoffRetry, NotifyContentFormat: topic.FormatJSON,
		}, 100)
		require.NoError(t, err)
	}
	return &pubRig{eng: eng, store: store, pub: pub, topic: tp}
}

// batch is n messages with bodies "m1", "m2", … and the given tags.
func batch(n int, tags ...string) []topic.Message {
	msgs := make([]topic.Message, n)
	for i := range msgs {
		msgs[i] = topic.Message{Body: []byte("m" + strconv.Itoa(i+1)), Tags: tags}
	}
	return msgs
}

// stored returns every message of the message stream, in stream order.
func stored(t *testing.T, eng *engine.Engine) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	s, err := eng.JS.Stream(ctx, topic.MessageStream)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	var out []*jetstream.RawStreamMsg
	if info.State.Msgs == 0 {
		return nil
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		require.NoError(t, err)
		out = append(out, m)
	}
	return out
}

func TestPublishStoresInOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		mode   topic.AtomicMode
		atomic bool
	}{
		{"default on one replica: message by message", topic.AtomicReplicated, false},
		{"never atomic", topic.AtomicNever, false},
		{"atomic", topic.AtomicAlways, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newPubRig(t, enginetest.New(t), topic.PublisherConfig{Atomic: tc.mode}, nil)
			require.Equal(t, tc.atomic, r.pub.Atomic())
			msgs := batch(16, "a", "b")
			msgs[5].RoutingKey = "x.y"
			msgs[6].Tags = []string{"c"}
			msgs[7].Tags = nil
			ids, err := r.pub.Publish(context.Background(), r.topic, msgs)
			require.NoError(t, err)
			require.Len(t, ids, 16)
			seen := map[string]bool{}
			for _, id := range ids {
				require.Regexp(t, `^[0-9A-F]{32}$`, id)
				seen[id] = true
			}
			require.Len(t, seen, 16, "ids are unique")

			got := stored(t, r.eng)
			require.Len(t, got, 16)
			topicRev, subRev := r.store.Revisions()
			for i, m := range got {
				require.Equal(t, topic.Subject(testApp, "t"), m.Subject)
				require.Equal(t, "m"+strconv.Itoa(i+1), string(m.Data))
				require.Equal(t, ids[i], m.Header.Get(topic.HeaderMsgID), "message %d", i)
				wantTags := []string{"a", "b"}
				switch i {
				case 6:
					wantTags = []string{"c"}
				case 7:
					wantTags = nil
				}
				require.Equal(t, wantTags, topic.DecodeTags(m.Header), "message %d", i)
				tr, sr := topic.DecodeIndexRev(m.Header)
				require.Equal(t, [2]uint64{topicRev, subRev}, [2]uint64{tr, sr})
				wantKey := ""
				if i == 5 {
					wantKey = "x.y"
				}
				require.Equal(t, wantKey, m.Header.Get(topic.HeaderRoutingKey))
				if tc.atomic {
					require.Equal(t, strconv.Itoa(i+1), m.Header.Get("Nats-Batch-Sequence"))
				} else {
					require.Empty(t, m.Header.Get("Nats-Batch-Id"))
				}
			}
			if tc.atomic {
				require.Equal(t, "1", got[15].Header.Get("Nats-Batch-Commit"))
			}
		})
	}
}

// TestAtomicBatchFailureStoresNothing: the engine refuses one message of an
// atomic batch (too big for the stream), and none of the batch is stored.
func TestAtomicBatchFailureStoresNothing(t *testing.T) {
	t.Parallel()
	eng := enginetest.New(t)
	small := func(ctx context.Context, cfg stream.Config) (*stream.Stream, error) {
		cfg.MaxMsgSize = 1024
		return eng.OpenStream(ctx, cfg)
	}
	r := newPubRig(t, eng, topic.PublisherConfig{Atomic: topic.AtomicAlways}, small)
	ctx := context.Background()
	for _, bad := range []int{0, 2, 15} {
		msgs := batch(16)
		msgs[bad].Body = []byte(strings.Repeat("b", 2000))
		ids, err := r.pub.Publish(ctx, r.topic, msgs)
		require.Error(t, err, "message %d too big", bad+1)
		require.Nil(t, ids)
		require.Empty(t, stored(t, eng), "message %d too big: nothing stored", bad+1)
	}
	ids, err := r.pub.Publish(ctx, r.topic, batch(16))
	require.NoError(t, err)
	got := stored(t, eng)
	require.Len(t, got, 16)
	for i, m := range got {
		require.Equal(t, ids[i], m.Header.Get(topic.HeaderMsgID))
	}
	require.True(t, r.pub.Atomic())
}

// TestPublishEachNamesTheRefusedMessage: without atomic batches a refusal
// fails the publish and says which message it was.
func TestPublishEachNamesTheRefusedMessage(t *testing.T) {
	t.Parallel()
	eng := enginetest.New(t)
	small := func(ctx context.Context, cfg stream.Config) (*stream.Stream, error) {
		cfg.MaxMsgSize = 1024
		return eng.OpenStream(ctx, cfg)
	}
	r := newPubRig(t, eng, topic.PublisherConfig{Atomic: topic.AtomicNever}, small)
	msgs := batch(4)
	msgs[2].Body = []byte(strings.Repeat("b", 2000))
	_, err := r.pub.Publish(context.Background(), r.topic, msgs)
	require.ErrorContains(t, err, "message 3 not stored")
}

// TestAtomicBatchFallsBackWhenDisallowed: a stream that stops allowing atomic
// batches (an operator's edit) turns them off; the batch is published
// message by message.
func TestAtomicBatchFallsBackWhenDisallowed(t *testing.T) {
	t.Parallel()
	eng := enginetest.New(t)
	r := newPubRig(t, eng, topic.PublisherConfig{Atomic: topic.AtomicAlways}, nil)
	require.True(t, r.pub.Atomic())
	cfg := topic.StreamConfig()
	cfg.AllowAtomic = false
	_, err := eng.OpenStream(context.Background(), cfg)
	require.NoError(t, err)

	ids, err := r.pub.Publish(context.Background(), r.topic, batch(16))
	require.NoError(t, err)
	require.False(t, r.pub.Atomic())
	got := stored(t, eng)
	require.Len(t, got, 16)
	for i, m := range got {
		require.Equal(t, ids[i], m.Header.Get(topic.HeaderMsgID))
		require.Empty(t, m.Header.Get("Nats-Batch-Id"))
	}
}

// TestStreamUpdatedOnRestart: a data dir whose message stream predates atomic
// batches is updated in place; its messages stay readable, and the stream
// keeps working across a further restart.
func TestStreamUpdatedOnRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	open := func() *engine.Engine {
		eng, err := engine.Open(ctx, engine.Config{DataDir: dir}, enginetest.Logger())
		require.NoError(t, err)
		return eng
	}

	// An old herald: the stream without atomic batches, a message with the
	// headers it wrote.
	eng := open()
	old := topic.StreamConfig()
	old.AllowAtomic = false
	_, err := eng.OpenStream(ctx, old)
	require.NoError(t, err)
	h := nats.Header{}
	h.Set(topic.HeaderMsgID, "0123456789ABCDEF0123456789ABCDEF")
	h.Set(topic.HeaderIndexRev, "3.4")
	h.Set(topic.HeaderTags, `["a"]`)
	_, err = eng.JS.PublishMsg(ctx, &nats.Msg{Subject: topic.Subject(testApp, "t"), Data: []byte("old"), Header: h})
	require.NoError(t, err)
	require.NoError(t, eng.Close())

	for restart := range 2 {
		eng = open()
		r := newPubRig(t, eng, topic.PublisherConfig{Atomic: topic.AtomicAlways}, nil)
		s, err := eng.JS.Stream(ctx, topic.MessageStream)
		require.NoError(t, err)
		require.True(t, s.CachedInfo().Config.AllowAtomicPublish)
		require.True(t, r.pub.Atomic())
		ids, err := r.pub.Publish(ctx, r.topic, batch(3, "a"))
		require.NoError(t, err)

		got := stored(t, eng)
		require.Len(t, got, 1+3*(restart+1))
		first := got[0]
		require.Equal(t, "old", string(first.Data))
		require.Equal(t, "0123456789ABCDEF0123456789ABCDEF", first.Header.Get(topic.HeaderMsgID))
		require.Equal(t, []string{"a"}, topic.DecodeTags(first.Header))
		tr, sr := topic.DecodeIndexRev(first.Header)
		require.Equal(t, [2]uint64{3, 4}, [2]uint64{tr, sr})
		for i, id := range ids {
			require.Equal(t, id, got[len(got)-3+i].Header.Get(topic.HeaderMsgID))
		}
		r.store.Close()
		require.NoError(t, eng.Close())
	}
}

// orderedSender records the message ids of the attempts it is given.
type orderedSender struct{ got chan string }

func (s orderedSender) TrySend(a delivery.Attempt, done func(delivery.Outcome)) bool {
	s.got <- a.MsgID
	go done(delivery.Outcome{Delivered: true})
	return true
}

type noRecorder struct{}

func (noRecorder) GaveUp(context.Context, *topic.Subscription, string, error) {}
func (noRecorder) SignatureRejected(context.Context, *topic.Subscription)     {}

type neverRetry struct{}

func (neverRetry) Next(int, time.Time, time.Time) (time.Time, bool) { return time.Time{}, false }

// TestAtomicBatchDeliveredInOrder: the ids an atomic batch returns are the
// messages the fan-out delivers, in order.
func TestAtomicBatchDeliveredInOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	eng := enginetest.New(t)
	r := newPubRig(t, eng, topic.PublisherConfig{Atomic: topic.AtomicAlways}, nil)
	sender := orderedSender{got: make(chan string, 64)}
	svc, err := delivery.New(ctx, delivery.Config{Policy: func(string) (delivery.RetryPolicy, error) { return neverRetry{}, nil }},
		delivery.Deps{Engine: eng, Subs: r.store, Sender: sender, Record: noRecorder{}, Clock: clock.Real{}, Log: enginetest.Logger()})
	require.NoError(t, err)
	require.NoError(t, svc.Start(ctx))
	t.Cleanup(func() { _ = svc.Stop(context.Background()) })

	var want []string
	for range 3 {
		ids, err := r.pub.Publish(ctx, r.topic, batch(16))
		require.NoError(t, err)
		want = append(want, ids...)
	}
	for i, id := range want {
		select {
		case got := <-sender.got:
			require.Equal(t, id, got, "delivery %d", i)
		case <-time.After(10 * time.Second):
			t.Fatalf("delivery %d of %d did not come", i, len(want))
		}
	}
}

func ExampleNewMessageID() {
	id := topic.NewMessageID()
	fmt.Println(len(id), strings.ToUpper(id) == id)
	// Output: 32 true
}
