package mns_test

import (
	"context"
	"crypto/hmac"
	"crypto/md5"  //nolint:gosec // the MNS protocol
	"crypto/sha1" //nolint:gosec // the MNS protocol
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/herald-mq/herald/internal/account"
	"github.com/herald-mq/herald/internal/api/mns"
	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/engine"
	"github.com/herald-mq/herald/internal/engine/enginetest"
	"github.com/herald-mq/herald/internal/queue"
	"github.com/herald-mq/herald/internal/topic"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine.func1"))
}

const (
	testKeyID  = "AKIDmns"
	testSecret = "mnsSecret"
	testAppID  = 1000000
	testHost   = "1000000.mns.cn-hangzhou.example:8080"
	nsAttr     = `xmlns="http://mns.aliyuncs.com/doc/v1/"`
	xmlDecl    = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"
)

// testNow is a Date the wire.md vectors use.
var testNow = time.Date(2024, 3, 7, 18, 49, 58, 0, time.UTC)

// api is the MNS API over a real embedded engine, with a fake clock.
type api struct {
	t      testing.TB
	h      http.Handler
	clk    *clock.Fake
	topics *topic.Store
	pub    *topic.Publisher
	queues *queue.Service
	eng    *engine.Engine
}

func newAPI(t testing.TB, cfg ...mns.Config) *api {
	t.Helper()
	eng := enginetest.New(t)
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	clk := clock.NewFake(testNow)
	akv, err := eng.KV(ctx, account.Bucket, 1)
	require.NoError(t, err)
	accounts, err := account.Open(ctx, akv, log)
	require.NoError(t, err)
	t.Cleanup(accounts.Close)
	require.NoError(t, accounts.Put(ctx, account.Key{AppID: testAppID, SecretID: testKeyID, SecretKey: testSecret}))
	require.NoError(t, accounts.Put(ctx, account.Key{AppID: 42, SecretID: "testAK", SecretKey: "testSK"}))
	topics, pub, err := topic.Open(ctx, eng, clk, log)
	require.NoError(t, err)
	t.Cleanup(topics.Close)
	queues, err := queue.New(ctx, queue.Config{}, queue.Deps{Engine: eng.WorkQueues(), KV: eng.Bucket, Clock: clk, Log: log})
	require.NoError(t, err)
	t.Cleanup(func() { _ = queues.Stop(context.Background()) })
	c := mns.Config{}
	if len(cfg) > 0 {
		c = cfg[0]
	}
	h, err := mns.New(c, mns.Deps{Accounts: accounts, Topics: topics, Messages: pub, Queues: queues, Clock: clk, Log: log})
	require.NoError(t, err)
	return &api{t: t, h: h, clk: clk, topics: topics, pub: pub, queues: queues, eng: eng}
}

// client is a small MNS client written from wire.md §2.1–2.2: the headers
// the Go SDK sends, signed with HMAC-SHA1.
type client struct {
	a      *api
	keyID  string
	secret string
	// extra headers for the next requests (x-mns-prefix…).
	header map[string]string
}

func (a *api) client() *client { return &client{a: a, keyID: testKeyID, secret: testSecret} }

// response is what the client saw.
type response struct {
	status int
	header http.Header
	body   string
}

// contentMD5 is the SDKs' Content-MD5: base64 of the lower-case hex MD5.
func contentMD5(body string) string {
	sum := md5.Sum([]byte(body)) //nolint:gosec // protocol
	return base64.StdEncoding.EncodeToString([]byte(hex.EncodeToString(sum[:])))
}

// signature is wire.md §2.2.
func signature(secret, method, md5, ctype, date string, h http.Header, resource string) string {
	var mnsHeaders []string
	for k, v := range h {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-mns-") {
			mnsHeaders = append(mnsHeaders, lk+":"+strings.TrimSpace(v[0])+"\n")
		}
	}
	sort.Strings(mnsHeaders)
	s := method + "\n" + md5 + "\n" + ctype + "\n" + date + "\n" + strings.Join(mnsHeaders, "") + resource
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// request builds a signed request as the Go SDK does.
func (c *client) request(method, target, body string) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Host = testHost
	r.Header.Set("x-mns-version", "2015-06-06")
	r.Header.Set("Date", c.a.clk.Now().UTC().Format(http.TimeFormat))
	r.Header.Set("Content-Type", "application/xml")
	r.Header.Set("Content-MD5", contentMD5(body))
	for k, v := range c.header {
		r.Header.Set(k, v)
	}
	r.Header.Set("Authorization", "MNS "+c.keyID+":"+signature(c.secret, method, r.Header.Get("Content-MD5"),
		r.Header.Get("Content-Type"), r.Header.Get("Date"), r.Header, target))
	return r
}

func (a *api) serve(r *http.Request) response {
	a.t.Helper()
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	res := response{status: w.Code, header: w.Header(), body: w.Body.String()}
	require.Regexp(a.t, `^[0-9A-F]{24}$`, res.header.Get("x-mns-request-id"), "every answer has a request id")
	require.Equal(a.t, "2015-06-06", res.header.Get("x-mns-version"))
	if res.body != "" {
		require.Equal(a.t, "text/xml;charset=utf-8", res.header.Get("Content-Type"))
		require.True(a.t, strings.HasPrefix(res.body, xmlDecl), res.body)
	}
	return res
}

func (c *client) do(method, target, body string) response {
	c.a.t.Helper()
	return c.a.serve(c.request(method, target, body))
}

// ok asserts the status and returns the body.
func (c *client) ok(status int, method, target, body string) string {
	c.a.t.Helper()
	res := c.do(method, target, body)
	require.Equal(c.a.t, status, res.status, res.body)
	return res.body
}

// mnsError is the error document.
type mnsError struct {
	XMLName   xml.Name
	Code      string
	Message   string
	RequestID string `xml:"RequestId"`
	HostID    string `xml:"HostId"`
}

// fails asserts an MNS error and returns it.
func (c *client) fails(status int, code, method, target, body string) mnsError {
	c.a.t.Helper()
	return requireError(c.a.t, c.do(method, target, body), status, code)
}

func requireError(t testing.TB, res response, status int, code string) mnsError {
	t.Helper()
	require.Equal(t, status, res.status, res.body)
	var e mnsError
	require.NoError(t, xml.Unmarshal([]byte(res.body), &e), res.body)
	require.Equal(t, xml.Name{Space: mns.Namespace, Local: "Error"}, e.XMLName)
	require.Equal(t, code, e.Code, res.body)
	require.NotEmpty(t, e.Message)
	require.Equal(t, res.header.Get("x-mns-request-id"), e.RequestID)
	require.Equal(t, "http://"+testHost, e.HostID)
	return e
}

// field returns the text of the first <name> element in doc.
func field(t testing.TB, doc, name string) string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, "<"+name+">")
	require.True(t, ok, "no <%s> in %s", name, doc)
	v, _, ok := strings.Cut(rest, "</"+name+">")
	require.True(t, ok)
	return v
}

func mnsConfig(maxBody int64) mns.Config { return mns.Config{MaxBodyBytes: maxBody} }

func md5hex(s string) string {
	sum := md5.Sum([]byte(s)) //nolint:gosec // protocol
	return hex.EncodeToString(sum[:])
}
