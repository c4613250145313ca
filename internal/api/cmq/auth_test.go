package cmq_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/api/cmq"
	"github.com/herald-mq/herald/internal/engine/enginetest"
	"github.com/herald-mq/herald/internal/nonce"
)

// The worked vectors of wire.md §1.10, sent as the Python SDK sends them.
func TestSignatureVectorsAuthenticate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, method, host, body string
	}{
		{"SIG1 HmacSHA1 POST", http.MethodPost, "127.0.0.1:8080",
			"Action=SendMessage&Nonce=12345&RequestClient=SDK_Python_1.3&SecretId=AKIDtest&SignatureMethod=HmacSHA1&Timestamp=1700000000&delaySeconds=0&msgBody=hello+world%26x%3D1&queueName=q1&Signature=sPg7RaV%2F%2FlVJpQ%2FWukXabNokRco%3D"},
		{"SIG2 HmacSHA256 POST", http.MethodPost, "127.0.0.1:8080",
			"Action=SendMessage&Nonce=12345&RequestClient=SDK_Python_1.3&SecretId=AKIDtest&SignatureMethod=HmacSHA256&Timestamp=1700000000&delaySeconds=0&msgBody=hello+world%26x%3D1&queueName=q1&Signature=" + url.QueryEscape("SAerGgkNO1/lBt5Aw+26lNyUcVLu6h5umYgXkgsFrPY=")},
		{"SIG3 HmacSHA1 GET", http.MethodGet, "localhost:8080",
			"Action=BatchSendMessage&Nonce=1&SecretId=AKIDtest&SignatureMethod=HmacSHA1&Timestamp=1700000000&delaySeconds=0&msgBody.1=a&msgBody.2=b&queueName=q1&Signature=" + url.QueryEscape("z2Wxq4LjLJau2M9001LEkAXiePI=")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t)
			out := a.doHost(tc.method, tc.host, tc.body)
			// Authenticated: the only complaint left is that this test
			// server has no queue service.
			requireCode(t, out, 4000, 10430)
			// The same request again is a replay.
			requireCode(t, a.doHost(tc.method, tc.host, tc.body), 4100, 10030)
			// One flipped byte in a signed value fails.
			tampered := strings.Replace(tc.body, "Nonce=1", "Nonce=7", 1)
			requireCode(t, a.doHost(tc.method, tc.host, tampered), 4100, 10030)
		})
	}
}

func (a *api) doHost(method, host, body string) map[string]any {
	a.t.Helper()
	saved := a.host
	defer func() { a.host = saved }()
	a.host = host
	return a.do(method, "/v2/index.php", body)
}

func TestAuthFailuresChangeNothing(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	good := func() url.Values {
		v, err := url.ParseQuery(a.signed(http.MethodPost, map[string]string{"Action": "CreateTopic", "topicName": "t1"}))
		require.NoError(t, err)
		return v
	}
	cases := []struct {
		name         string
		mutate       func(v url.Values) url.Values
		code, module int
	}{
		{"no signature", func(v url.Values) url.Values { v.Del("Signature"); return v }, 4100, 10030},
		{"wrong signature", func(v url.Values) url.Values { v.Set("Signature", "AAAA"); return v }, 4100, 10030},
		{"signature for another value", func(v url.Values) url.Values { v.Set("topicName", "t2"); return v }, 4100, 10030},
		{"no SecretId", func(v url.Values) url.Values { v.Del("SecretId"); return v }, 4100, 10030},
		{"no Nonce", func(v url.Values) url.Values { v.Del("Nonce"); return v }, 4100, 10030},
		{"no Timestamp", func(v url.Values) url.Values { v.Del("Timestamp"); return v }, 4100, 10030},
		{"unknown SecretId", func(v url.Values) url.Values { v.Set("SecretId", "AKIDnobody"); return v }, 4100, 10270},
		{"SecretId without AKID", func(v url.Values) url.Values { v.Set("SecretId", "nobody"); return v }, 4000, 10450},
	}
	for _, tc := range cases {
		out := a.do(http.MethodPost, "/v2/index.php", tc.mutate(good()).Encode())
		requireCode(t, out, tc.code, tc.module)
	}
	// A stale timestamp: signed correctly, but 10 minutes old.
	stale := good()
	a.clk.Advance(10 * time.Minute)
	requireCode(t, a.do(http.MethodPost, "/v2/index.php", stale.Encode()), 4100, 10030)
	// None of the refused calls created the topic.
	a.fails(4440, 10600, "GetTopicAttributes", "topicName", "t1")
	// A replayed nonce: the first call works, the replay does not.
	body := a.signed(http.MethodPost, map[string]string{"Action": "CreateTopic", "topicName": "t3"})
	requireCode(t, a.do(http.MethodPost, "/v2/index.php", body), 0, 0)
	requireCode(t, a.do(http.MethodPost, "/v2/index.php", body), 4100, 10030)
}

func TestProtocolErrors(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	requireCode(t, a.do(http.MethodPut, "/v2/index.php", ""), 4000, 10410)
	requireCode(t, a.do(http.MethodPost, "/v2/index.php", "a=%zz"), 4000, 10420)
	requireCode(t, a.do(http.MethodPost, "/v2/index.php", "a=1&a=2"), 4000, 10330)
	requireCode(t, a.do(http.MethodPost, "/v2/index.php", strings.Repeat("a", 1<<20+1)), 4000, 10420)
	requireCode(t, a.do(http.MethodPost, "/v2/index.php", a.signed(http.MethodPost, map[string]string{"Action": "NoSuchAction"})), 4000, 10430)
	// GET with everything in the query string works as POST does.
	out := a.do(http.MethodGet, "/v2/index.php", a.signed(http.MethodGet, map[string]string{"Action": "ListTopic"}))
	requireCode(t, out, 0, 0)
}

func TestClientRequestIDEchoed(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	body := a.signed(http.MethodPost, map[string]string{"Action": "ListTopic", "clientRequestId": "18446744073709551615"})
	raw := string(a.raw(http.MethodPost, "/v2/index.php", body))
	require.Regexp(t, `^\{"code":0,"message":"","requestId":"[0-9]+","clientRequestId":18446744073709551615,"totalCount":0,"topicList":\[\]\}$`, raw)
}

// Whatever arrives, the check never panics, and a request signed correctly
// with arbitrary extra parameters authenticates.
func FuzzSignatureCheck(f *testing.F) {
	f.Add("msgBody", "hello world&x=1", "POST")
	f.Add("searchWord ", "@file", "POST")
	f.Add("a_b", "", "GET")
	a := newAPI(f)
	f.Fuzz(func(t *testing.T, key, value, method string) {
		a.t = t // inputs run one at a time in each fuzz worker
		if method != http.MethodGet {
			method = http.MethodPost
		}
		// Any raw body: no panic, an envelope comes back.
		_ = a.raw(method, "/v2/index.php", url.QueryEscape(key)+"="+url.QueryEscape(value))
		k := strings.TrimSpace(key)
		switch k {
		case "", "Action", "SecretId", "Timestamp", "Nonce", "SignatureMethod", "Signature", "clientRequestId":
			return
		}
		out := a.do(method, "/v2/index.php", a.signed(method, map[string]string{"Action": "ListTopic", k: value}))
		if out["code"] != float64(0) {
			t.Fatalf("signed request refused: %v", out)
		}
	})
}

func TestRouteQueriesAnswerNoOtherAddress(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	for _, action := range []string{"QueryQueueRoute", "QueryTopicRoute"} {
		body := a.signed(http.MethodPost, map[string]string{"Action": action, "queueName": "q"})
		require.Regexp(t, `^\{"code":0,"message":"","requestId":"[0-9]+","addr":\[\]\}$`, string(a.raw(http.MethodPost, "/v2/index.php", body)))
	}
}

// Nonces are shared by the processes on one engine (a cluster, or one
// process and its later starts): a request replayed to another process is
// refused there too; a failing nonce store fails the
// request rather than letting it through.
func TestNoncesSharedAcrossProcesses(t *testing.T) {
	t.Parallel()
	eng := enginetest.New(t)
	shared, err := nonce.Open(t.Context(), eng.ExpiringBucket, 10*time.Minute)
	require.NoError(t, err)
	withShared := func(d *cmq.Deps) { d.Nonces = shared }
	one := newAPIWith(t, eng, false, withShared)
	two := newAPIWith(t, eng, false, withShared)
	body := one.signed(http.MethodPost, map[string]string{"Action": "CreateTopic", "topicName": "once"})
	requireCode(t, one.do(http.MethodPost, "/v2/index.php", body), 0, 0)
	requireCode(t, two.do(http.MethodPost, "/v2/index.php", body), 4100, 10030)

	broken := newAPIWith(t, eng, false, func(d *cmq.Deps) { d.Nonces = failingNonces{} })
	requireCode(t, broken.do(http.MethodPost, "/v2/index.php", broken.signed(http.MethodPost, map[string]string{"Action": "ListTopic"})), 6000, 10050)
}

type failingNonces struct{}

func (failingNonces) FirstUse(context.Context, string, string) (bool, error) {
	return false, errors.New("engine unreachable")
}
