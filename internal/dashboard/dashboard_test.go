package dashboard_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/herald-mq/herald/internal/account"
	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/dashboard"
	"github.com/herald-mq/herald/internal/delivery"
	"github.com/herald-mq/herald/internal/engine/enginetest"
	"github.com/herald-mq/herald/internal/queue"
	"github.com/herald-mq/herald/internal/topic"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine.func1"))
}

type fakeBacklog map[string]int64

func (f fakeBacklog) Waiting(_ context.Context, subID string) (int64, error) { return f[subID], nil }

type fakeStats map[string]delivery.Counts

func (f fakeStats) Counts(_ context.Context, sub topic.Subscription) (delivery.Counts, error) {
	return f[sub.Name], nil
}

// The page shows an account's own topics, subscriptions and queues with
// their figures, escaped, behind its SecretId and SecretKey.
func TestPage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	eng := enginetest.New(t)
	log := slog.New(slog.DiscardHandler)
	clk := clock.NewFake(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	akv, err := eng.KV(ctx, account.Bucket, 1)
	require.NoError(t, err)
	accounts, err := account.Open(ctx, akv, log)
	require.NoError(t, err)
	t.Cleanup(accounts.Close)
	require.NoError(t, accounts.Put(ctx, account.Key{AppID: 7, SecretID: "AKIDseven", SecretKey: "key7"}))
	require.NoError(t, accounts.Put(ctx, account.Key{AppID: 8, SecretID: "AKIDeight", SecretKey: "key8"}))
	topics, pub, err := topic.Open(ctx, eng, clk, log)
	require.NoError(t, err)
	t.Cleanup(topics.Close)
	queues, err := queue.New(ctx, queue.Config{}, queue.Deps{Engine: eng.WorkQueues(), KV: eng.Bucket, Clock: clk, Log: log})
	require.NoError(t, err)
	t.Cleanup(func() { _ = queues.Stop(context.Background()) })

	tp, err := topics.CreateTopic(ctx, topic.Topic{AppID: 7, Name: "orders", MaxMsgSize: 65536, FilterType: topic.FilterTag})
	require.NoError(t, err)
	down, err := topics.Subscribe(ctx, topic.Subscription{AppID: 7, TopicName: "orders", Name: "billing", Protocol: topic.ProtocolHTTP,
		Endpoint: "http://billing.example/<script>x</script>", NotifyStrategy: topic.BackoffRetry, NotifyContentFormat: "JSON"}, 100)
	require.NoError(t, err)
	_, err = pub.Publish(ctx, tp, []topic.Message{{Body: []byte("a")}, {Body: []byte("b")}, {Body: []byte("c")}})
	require.NoError(t, err)
	_, err = topics.CreateTopic(ctx, topic.Topic{AppID: 8, Name: "someone-elses", MaxMsgSize: 65536, FilterType: topic.FilterTag})
	require.NoError(t, err)
	_, err = queues.CreateQueue(ctx, queue.Queue{AppID: 7, Name: "jobs"})
	require.NoError(t, err)
	_, err = queues.Send(ctx, 7, "jobs", [][]byte{[]byte("j1"), []byte("j2")}, 0)
	require.NoError(t, err)

	h, err := dashboard.New(dashboard.Deps{
		Accounts: accounts, Topics: topics, Messages: pub, Queues: queues, Clock: clk, Log: log,
		Backlog: fakeBacklog{down.ID: 3}, Stats: fakeStats{"billing": {GivenUp: 2, SignatureRejected: 1}},
	})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	get := func(user, pass string) (int, http.Header, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		require.NoError(t, err)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, resp.Header, string(body)
	}
	for _, c := range [][2]string{{"", ""}, {"AKIDseven", "wrong"}, {"AKIDnobody", "key7"}} {
		code, header, _ := get(c[0], c[1])
		require.Equal(t, http.StatusUnauthorized, code, c[0])
		require.Equal(t, `Basic realm="herald", charset="UTF-8"`, header.Get("WWW-Authenticate"))
	}

	code, header, body := get("AKIDseven", "key7")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "text/html; charset=utf-8", header.Get("Content-Type"))
	require.Equal(t, "no-store", header.Get("Cache-Control"))
	require.Contains(t, header.Get("Content-Security-Policy"), "default-src 'none'")
	flat := strings.Join(strings.Fields(body), " ")
	for _, want := range []string{
		"APPID 7 · 2026-11-25T12:00:00Z",
		"<h2>Topics (1)</h2>",
		`<tr><td><b>orders</b></td><td>tags</td><td></td><td></td><td></td> <td class="n">3</td>`,
		`<tr class="sub"><td>billing</td><td>http</td><td>http://billing.example/&lt;script&gt;x&lt;/script&gt;</td><td>BACKOFF_RETRY</td><td>JSON</td>`,
		`<td class="n bad">3</td><td class="n bad">2</td> <td class="n bad">1</td>`,
		"<h2>Queues (1)</h2>",
		`<tr><td><b>jobs</b></td><td class="n">2</td><td class="n">0</td><td class="n">0</td>`,
	} {
		require.Contains(t, flat, want)
	}
	require.NotContains(t, body, "<script>")
	require.NotContains(t, body, "someone-elses", "another account's topics are not shown")

	post, err := http.Post(srv.URL, "text/plain", nil)
	require.NoError(t, err)
	_ = post.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, post.StatusCode)

	_, err = dashboard.New(dashboard.Deps{})
	require.Error(t, err)
}
