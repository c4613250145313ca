package client_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/client"
)

const (
	testHost      = "127.0.0.1:8080"
	testSecretID  = "AKIDtest"
	testSecretKey = "testSecretKey"
	testNow       = 1700000000
)

// commonKeys are the parameters the client adds to every action.
var commonKeys = map[string]bool{
	"Action": true, "Nonce": true, "RequestClient": true, "SecretId": true,
	"SignatureMethod": true, "Timestamp": true, "Signature": true,
}

// parseRaw splits a form in wire order, keeping repeated and raw keys.
func parseRaw(form string) ([]client.Param, error) {
	var ps []client.Param
	if form == "" {
		return ps, nil
	}
	for pair := range strings.SplitSeq(form, "&") {
		k, v, _ := strings.Cut(pair, "=")
		val, err := url.QueryUnescape(v)
		if err != nil {
			return nil, err
		}
		ps = append(ps, client.Param{Key: k, Value: val})
	}
	return ps, nil
}

// verifySignature checks a request the way a server does: on the raw form it
// received, with the host and path it was addressed with.
func verifySignature(secretKey, method, host, path, form string) ([]client.Param, error) {
	ps, err := parseRaw(form)
	if err != nil {
		return nil, err
	}
	var sig, sigMethod string
	for _, p := range ps {
		switch p.Key {
		case "Signature":
			sig = p.Value
		case "SignatureMethod":
			sigMethod = p.Value
		}
	}
	want := client.Sign(sigMethod, secretKey, client.StringToSign(method, host, path, ps))
	if sig != want {
		return nil, fmt.Errorf("signature %q, want %q", sig, want)
	}
	return ps, nil
}

// sent is one request as the stub transport saw it.
type sent struct {
	method   string
	url      *url.URL
	header   http.Header
	body     string
	params   []client.Param
	deadline time.Time
}

// actionParams are the parameters other than the common ones.
func (s sent) actionParams() map[string]string {
	m := map[string]string{}
	for _, p := range s.params {
		if !commonKeys[p.Key] {
			m[p.Key] = p.Value
		}
	}
	return m
}

func (s sent) param(key string) string {
	for _, p := range s.params {
		if p.Key == key {
			return p.Value
		}
	}
	return ""
}

// stub is an in-memory http.RoundTripper that verifies signatures and
// answers with a fixed status and body.
type stub struct {
	t      testing.TB
	status int
	body   string
	err    error

	mu   sync.Mutex
	reqs []sent
}

func (s *stub) RoundTrip(r *http.Request) (*http.Response, error) {
	if s.err != nil {
		return nil, s.err
	}
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	var body []byte
	if r.Body != nil {
		var err error
		body, err = io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		_ = r.Body.Close()
	}
	form := string(body)
	if r.Method == http.MethodGet {
		form = r.URL.RawQuery
	}
	ps, err := verifySignature(testSecretKey, r.Method, r.URL.Host, r.URL.Path, form)
	if err != nil {
		return nil, err
	}
	rec := sent{method: r.Method, url: r.URL, header: r.Header, body: string(body), params: ps}
	rec.deadline, _ = r.Context().Deadline()
	s.mu.Lock()
	s.reqs = append(s.reqs, rec)
	s.mu.Unlock()
	return &http.Response{
		StatusCode: s.status,
		Status:     http.StatusText(s.status),
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(strings.NewReader(s.body)),
		Request:    r,
	}, nil
}

func (s *stub) last() sent {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	require.NotEmpty(s.t, s.reqs)
	return s.reqs[len(s.reqs)-1]
}

// newStubClient returns a deterministic client for http://127.0.0.1:8080
// whose requests go to a stub answering status and body.
func newStubClient(t testing.TB, status int, body string, opts ...client.Option) (*client.Client, *stub) {
	t.Helper()
	st := &stub{t: t, status: status, body: body}
	opts = append([]client.Option{
		client.WithHTTPClient(&http.Client{Transport: st}),
		client.WithClock(func() time.Time { return time.Unix(testNow, 0) }),
		client.WithNonce(func() uint64 { return 12345 }),
	}, opts...)
	c, err := client.New("http://"+testHost, testSecretID, testSecretKey, opts...)
	require.NoError(t, err)
	return c, st
}

const okEnvelope = `{"code":0,"message":"","requestId":"r1"}`

// errNetwork stands in for a failed dial.
var errNetwork = errors.New("connection refused")
