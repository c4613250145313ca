package mns_test

import (
	"context"
	"crypto/md5" //nolint:gosec // the MNS protocol
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/queue"
)

// The worked vectors of wire.md §2.2, computed with the Python SDK: sent
// byte for byte as there, herald accepts them.
func TestSignatureVectors(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	_, err := a.queues.CreateQueue(context.Background(), queue.Queue{AppID: 42, Name: "q1"})
	require.NoError(t, err)
	date := "Thu, 07 Mar 2024 18:49:58 GMT"
	body := `<?xml version="1.0" encoding="UTF-8"?><Message xmlns="http://mns.aliyuncs.com/doc/v1/"><MessageBody>hello</MessageBody><DelaySeconds>0</DelaySeconds><Priority>8</Priority></Message>`
	vectors := []struct {
		method, target, body, ctype, md5, auth string
		header                                 map[string]string
		status                                 int
	}{
		{"POST", "/queues/q1/messages", body, "text/xml;charset=UTF-8", "MzNmN2Y2MjU3MmJjNzA3ZTIzM2UzMzcwZTYzNTJmZTI=", "MNS testAK:ys/V7bscPJNCOEH8IxNUz6kPKoc=", nil, http.StatusCreated},
		{"GET", "/queues/q1/messages?waitseconds=10", "", "", "", "MNS testAK:QF9BuNL9IZ2ELaACvWJJC1HqicQ=", nil, http.StatusOK},
		{"GET", "/queues", "", "", "", "MNS testAK:ljX2pGeMb5aX4l2f36v3hJH8PlQ=", map[string]string{"x-mns-prefix": "q", "x-mns-ret-number": "10"}, http.StatusOK},
	}
	for _, v := range vectors {
		r := httptest.NewRequest(v.method, v.target, strings.NewReader(v.body))
		r.Host = testHost
		r.Header.Set("x-mns-version", "2015-06-06")
		r.Header.Set("Date", date)
		if v.ctype != "" {
			r.Header.Set("Content-Type", v.ctype)
			r.Header.Set("Content-MD5", v.md5)
		}
		for k, val := range v.header {
			r.Header.Set(k, val)
		}
		r.Header.Set("Authorization", v.auth)
		// The tests' own client signs the same way.
		require.Equal(t, strings.TrimPrefix(v.auth, "MNS testAK:"), signature("testSK", v.method, v.md5, v.ctype, date, r.Header, v.target))
		if v.md5 != "" {
			require.Equal(t, v.md5, contentMD5(v.body))
		}
		res := a.serve(r)
		require.Equal(t, v.status, res.status, "%s %s: %s", v.method, v.target, res.body)
	}
	res := a.serve(func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/queues", nil)
		r.Host = testHost
		r.Header.Set("x-mns-version", "2015-06-06")
		r.Header.Set("Date", date)
		r.Header.Set("x-mns-prefix", "q")
		r.Header.Set("x-mns-ret-number", "10")
		r.Header.Set("Authorization", "MNS testAK:ljX2pGeMb5aX4l2f36v3hJH8PlQ=")
		return r
	}())
	require.Equal(t, xmlDecl+`<Queues `+nsAttr+`><Queue><QueueURL>http://`+testHost+`/queues/q1</QueueURL></Queue></Queues>`, res.body)
}

func TestAuthErrors(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.client()
	signed := func(change func(r *http.Request)) response {
		r := c.request("GET", "/queues", "")
		change(r)
		return a.serve(r)
	}
	resign := func(r *http.Request, secret string) {
		r.Header.Set("Authorization", "MNS "+testKeyID+":"+signature(secret, r.Method, r.Header.Get("Content-MD5"),
			r.Header.Get("Content-Type"), r.Header.Get("Date"), r.Header, r.RequestURI))
	}
	cases := []struct {
		name   string
		change func(r *http.Request)
		status int
		code   string
	}{
		{"no version", func(r *http.Request) { r.Header.Set("x-mns-version", ""); resign(r, testSecret) }, 400, "MissingVersionHeader"},
		{"no authorization", func(r *http.Request) { r.Header.Del("Authorization") }, 400, "MissingAuthorizationHeader"},
		{"not MNS", func(r *http.Request) { r.Header.Set("Authorization", "Basic abc") }, 400, "InvalidAuthorizationHeader"},
		{"no colon", func(r *http.Request) { r.Header.Set("Authorization", "MNS "+testKeyID) }, 400, "InvalidAuthorizationHeader"},
		{"empty signature", func(r *http.Request) { r.Header.Set("Authorization", "MNS "+testKeyID+":") }, 400, "InvalidAuthorizationHeader"},
		{"unknown key", func(r *http.Request) { r.Header.Set("Authorization", "MNS nobody:abc=") }, 403, "InvalidAccessKeyId"},
		{"wrong secret", func(r *http.Request) { resign(r, "other") }, 403, "SignatureDoesNotMatch"},
		{"changed header", func(r *http.Request) { r.Header.Set("x-mns-prefix", "x") }, 403, "SignatureDoesNotMatch"},
		{"no date", func(r *http.Request) { r.Header.Del("Date"); resign(r, testSecret) }, 400, "MissingDateHeader"},
		{"bad date", func(r *http.Request) { r.Header.Set("Date", "yesterday"); resign(r, testSecret) }, 400, "InvalidDateHeader"},
		{"old date", func(r *http.Request) {
			r.Header.Set("Date", testNow.Add(-16*time.Minute).Format(http.TimeFormat))
			resign(r, testSecret)
		}, 408, "TimeExpired"},
		{"future date", func(r *http.Request) {
			r.Header.Set("Date", testNow.Add(16*time.Minute).Format(http.TimeFormat))
			resign(r, testSecret)
		}, 408, "TimeExpired"},
		{"x-mns-date outside the window", func(r *http.Request) {
			r.Header.Set("x-mns-date", testNow.Add(-time.Hour).Format(http.TimeFormat))
			resign(r, testSecret)
		}, 408, "TimeExpired"},
		{"wrong Content-MD5", func(r *http.Request) { r.Header.Set("Content-MD5", contentMD5("x")); resign(r, testSecret) }, 400, "InvalidDegist"},
	}
	for _, tc := range cases {
		requireError(t, signed(tc.change), tc.status, tc.code)
	}
	// Inside the window, and the RFC 1864 Content-MD5, are fine; so is no
	// Content-MD5 at all (the Java SDK sends none).
	for _, change := range []func(r *http.Request){
		func(r *http.Request) {
			r.Header.Set("Date", testNow.Add(14*time.Minute).Format(http.TimeFormat))
			resign(r, testSecret)
		},
		func(r *http.Request) {
			sum := md5.Sum(nil) //nolint:gosec // protocol
			r.Header.Set("Content-MD5", base64.StdEncoding.EncodeToString(sum[:]))
			resign(r, testSecret)
		},
		func(r *http.Request) {
			r.Header.Del("Content-MD5")
			r.Header.Del("Content-Type")
			resign(r, testSecret)
		},
	} {
		require.Equal(t, http.StatusOK, signed(change).status)
	}
	// An SDK endpoint ending in "/" sends "//queues" and signs "/queues".
	r := c.request("GET", "/queues", "")
	r.RequestURI = "//queues"
	require.Equal(t, http.StatusOK, a.serve(r).status)
}

// The error document, byte for byte.
func TestErrorDocument(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	res := a.client().do("GET", "/queues/nope", "")
	require.Equal(t, http.StatusNotFound, res.status)
	id := res.header.Get("x-mns-request-id")
	require.Equal(t, xmlDecl+`<Error `+nsAttr+`><Code>QueueNotExist</Code><Message>The queue name you provided is not exist.</Message>`+
		`<RequestId>`+id+`</RequestId><HostId>http://`+testHost+`</HostId></Error>`, res.body)
	require.Equal(t, testNow.Format(http.TimeFormat), res.header.Get("Date"))
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.client()
	for _, rt := range [][2]string{
		{"POST", "/queues"}, {"GET", "/"}, {"GET", "/queues/q/other"}, {"PATCH", "/queues/q"},
		{"GET", "/topics/t/messages"}, {"POST", "/topics/t/subscriptions"}, {"GET", "/queues//messages"}, {"GET", "/buckets"},
	} {
		c.fails(400, "InvalidRequestURL", rt[0], rt[1], "")
	}
	c.fails(400, "InvalidQueryString", "GET", "/queues/q/messages?a=%zz", "")
	c.fails(400, "InvalidQueryString", "GET", "/queues/q/messages?waitseconds=1&WaitSeconds=2", "")
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	a := newAPI(t, mnsConfig(1024))
	e := a.client().fails(400, "InvalidArgument", "POST", "/queues/q/messages", "<Message><MessageBody>"+strings.Repeat("x", 2048)+"</MessageBody></Message>")
	require.Contains(t, e.Message, "1024 bytes")
}
