package cmq_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/herald-mq/herald/client"
	"github.com/herald-mq/herald/internal/account"
	"github.com/herald-mq/herald/internal/api/cmq"
	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/engine"
	"github.com/herald-mq/herald/internal/engine/enginetest"
	"github.com/herald-mq/herald/internal/nonce"
	"github.com/herald-mq/herald/internal/queue"
	"github.com/herald-mq/herald/internal/topic"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine.func1"))
}

const (
	testSecretID  = "AKIDtest"
	testSecretKey = "testSecretKey"
	testAppID     = 1000000
	testHost      = "127.0.0.1:8080"
	testNow       = 1700000000
)

// api is a CMQ API over a real embedded engine, with a fake clock at testNow.
type api struct {
	t      testing.TB
	h      http.Handler
	clk    *clock.Fake
	topics *topic.Store
	queues *queue.Service // nil unless made by newQueueAPI
	eng    *engine.Engine
	host   string
	// id and key sign the requests; testSecretID and testSecretKey (an
	// admin key of testAppID) unless made by as.
	id, key string
}

// as returns the same API with requests signed by another key.
func (a *api) as(secretID, secretKey string) *api {
	return &api{t: a.t, h: a.h, clk: a.clk, topics: a.topics, queues: a.queues, eng: a.eng, host: a.host, id: secretID, key: secretKey}
}

func newAPI(t testing.TB) *api {
	return newAPIOn(t, enginetest.New(t))
}

func newAPIOn(t testing.TB, eng *engine.Engine) *api {
	t.Helper()
	return newAPIWith(t, eng, false)
}

// newQueueAPI is newAPI with a queue service and the queue actions.
func newQueueAPI(t testing.TB) *api {
	t.Helper()
	return newAPIWith(t, enginetest.New(t), true)
}

// lastNonce numbers the requests of every test api: those sharing an
// engine share its nonce bucket.
var lastNonce atomic.Int64

func newAPIWith(t testing.TB, eng *engine.Engine, withQueues bool, more ...func(*cmq.Deps)) *api {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	clk := clock.NewFake(time.Unix(testNow, 0))
	akv, err := eng.KV(ctx, account.Bucket, 1)
	require.NoError(t, err)
	accounts, err := account.Open(ctx, akv, log)
	require.NoError(t, err)
	t.Cleanup(accounts.Close)
	_, _, err = accounts.Bootstrap(ctx, testAppID, testSecretID, testSecretKey, clk.Now())
	require.NoError(t, err)
	topics, pub, err := topic.Open(ctx, eng, clk, log)
	require.NoError(t, err)
	t.Cleanup(topics.Close)
	nonces, err := nonce.Open(ctx, eng.ExpiringBucket, 10*time.Minute)
	require.NoError(t, err)
	deps := cmq.Deps{Accounts: accounts, Topics: topics, Messages: pub, Nonces: nonces, Admin: accounts, Clock: clk, Log: log}
	var queues *queue.Service
	if withQueues {
		queues, err = queue.New(ctx, queue.Config{}, queue.Deps{Engine: eng.WorkQueues(), KV: eng.Bucket, Clock: clk, Log: log})
		require.NoError(t, err)
		t.Cleanup(func() { _ = queues.Stop(context.Background()) })
		deps.Queues = queues
	}
	for _, f := range more {
		f(&deps)
	}
	h, err := cmq.New(cmq.Config{}, deps)
	require.NoError(t, err)
	return &api{t: t, h: h, clk: clk, topics: topics, queues: queues, eng: eng, host: testHost, id: testSecretID, key: testSecretKey}
}

// signed returns the POST body of a correctly signed request.
func (a *api) signed(method string, params map[string]string) string {
	ps := []client.Param{
		{Key: "SecretId", Value: a.id},
		{Key: "Timestamp", Value: strconv.FormatInt(a.clk.Now().Unix(), 10)},
		{Key: "Nonce", Value: strconv.FormatInt(lastNonce.Add(1), 10)},
		{Key: "SignatureMethod", Value: "HmacSHA256"},
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ps = append(ps, client.Param{Key: k, Value: params[k]})
	}
	sig := client.Sign("HmacSHA256", a.key, client.StringToSign(method, testHost, "/v2/index.php", ps))
	form := url.Values{}
	for _, p := range ps {
		form.Set(p.Key, p.Value)
	}
	form.Set("Signature", sig)
	return form.Encode()
}

// do sends a raw request and decodes the envelope.
func (a *api) do(method, target, body string) map[string]any {
	a.t.Helper()
	var out map[string]any
	raw := a.raw(method, target, body)
	require.NoError(a.t, json.Unmarshal(raw, &out), string(raw))
	require.IsType(a.t, "", out["requestId"])
	require.NotEmpty(a.t, out["requestId"])
	require.IsType(a.t, "", out["message"])
	return out
}

// raw sends a request and returns the response body.
func (a *api) raw(method, target, body string) []byte {
	a.t.Helper()
	var r *http.Request
	if method == http.MethodGet {
		r = httptest.NewRequest(method, target+"?"+body, nil)
	} else {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
	}
	r.Host = a.host
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	require.Equal(a.t, http.StatusOK, w.Code)
	require.Equal(a.t, "application/json; charset=utf-8", w.Header().Get("Content-Type"))
	return w.Body.Bytes()
}

// call signs and POSTs an action with params (key=value pairs).
func (a *api) call(action string, kv ...string) map[string]any {
	a.t.Helper()
	params := map[string]string{"Action": action}
	for i := 0; i+1 < len(kv); i += 2 {
		params[kv[i]] = kv[i+1]
	}
	return a.do(http.MethodPost, "/v2/index.php", a.signed(http.MethodPost, params))
}

// ok asserts success and returns the response.
func (a *api) ok(action string, kv ...string) map[string]any {
	a.t.Helper()
	out := a.call(action, kv...)
	require.Equal(a.t, float64(0), out["code"], "%v", out)
	require.Equal(a.t, "", out["message"])
	return out
}

// fails asserts the CMQ code and module code of a failed call.
func (a *api) fails(code, module int, action string, kv ...string) map[string]any {
	a.t.Helper()
	out := a.call(action, kv...)
	requireCode(a.t, out, code, module)
	return out
}

func requireCode(t testing.TB, out map[string]any, code, module int) {
	t.Helper()
	require.Equal(t, float64(code), out["code"], "%v", out)
	if code == 0 {
		require.Equal(t, "", out["message"])
		return
	}
	require.True(t, strings.HasPrefix(out["message"].(string), "("+strconv.Itoa(module)+")"), "message %q, want module %d", out["message"], module)
}
