package topic

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/engine/kv"
	"github.com/herald-mq/herald/internal/engine/stream"
)

// TestAtomicBatchRetriedWhenTooManyInFlight: an engine that takes one atomic
// batch at a time refuses a second while the first is open; the publish
// waits and tries again instead of failing or storing part of it.
func TestAtomicBatchRetriedWhenTooManyInFlight(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, err := server.NewServer(&server.Options{
		DontListen: true, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true,
		JetStreamLimits: server.JSLimitOpts{MaxBatchInflightPerStream: 1},
	})
	require.NoError(t, err)
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	require.True(t, srv.ReadyForConnections(10*time.Second))
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)

	bucket := func(name string) *kv.Bucket {
		b, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: name})
		require.NoError(t, err)
		return kv.New(b)
	}
	store, err := OpenStore(ctx, bucket(TopicBucket), bucket(SubscriptionBucket), clock.Real{}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(store.Close)
	tp, err := store.CreateTopic(ctx, Topic{AppID: 1, Name: "t", MaxMsgSize: 65536, FilterType: FilterTag})
	require.NoError(t, err)
	_, err = store.Subscribe(ctx, Subscription{AppID: 1, TopicName: "t", Name: "s", Protocol: ProtocolHTTP, Endpoint: "http://e.example"}, 10)
	require.NoError(t, err)
	pub, err := NewPublisherWith(ctx, PublisherConfig{Atomic: AtomicAlways}, store, rawEngine{nc: nc, js: js})
	require.NoError(t, err)
	refused, release := make(chan struct{}), make(chan struct{})
	pub.pause = func(ctx context.Context, _ time.Duration) error {
		refused <- struct{}{}
		<-release
		return nil
	}

	// Another publisher's batch, open: it holds the stream's only slot.
	other := func(seq string, commit bool) *nats.Msg {
		m := &nats.Msg{Subject: Subject(1, "other"), Data: []byte("other " + seq), Header: nats.Header{}}
		m.Header.Set("Nats-Batch-Id", "other")
		m.Header.Set("Nats-Batch-Sequence", seq)
		if commit {
			m.Header.Set("Nats-Batch-Commit", "1")
		}
		reply, err := nc.RequestMsg(m, 5*time.Second)
		require.NoError(t, err)
		require.NotContains(t, string(reply.Data), `"error"`, "the other batch's message is staged or stored")
		return reply
	}
	other("1", false)

	type result struct {
		ids []string
		err error
	}
	done := make(chan result, 1)
	msgs := []Message{{Body: []byte("a")}, {Body: []byte("b")}, {Body: []byte("c")}}
	go func() {
		ids, err := pub.Publish(ctx, tp, msgs)
		done <- result{ids, err}
	}()
	select {
	case <-refused:
	case <-time.After(10 * time.Second):
		t.Fatal("the batch was not refused")
	}
	other("2", true)
	close(release)
	res := <-done
	require.NoError(t, res.err)

	s, err := js.Stream(ctx, MessageStream)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(5), info.State.Msgs, "the other batch's two, then ours")
	for i, id := range res.ids {
		m, err := s.GetMsg(ctx, uint64(3+i))
		require.NoError(t, err)
		require.Equal(t, id, m.Header.Get(HeaderMsgID))
		require.Equal(t, string(msgs[i].Body), string(m.Data))
	}
}

// rawEngine opens streams on a JetStream connection of the test's own.
type rawEngine struct {
	nc *nats.Conn
	js jetstream.JetStream
}

func (e rawEngine) OpenStream(ctx context.Context, cfg stream.Config) (*stream.Stream, error) {
	s, err := e.js.CreateOrUpdateStream(ctx, cfg.JetStream())
	if err != nil {
		return nil, err
	}
	return stream.Wrap(s), nil
}

func (e rawEngine) Publisher() (*stream.Publisher, error) { return stream.NewPublisher(e.nc) }
