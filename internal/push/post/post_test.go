package post_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/herald-mq/herald/internal/push/post"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newClient(t testing.TB, cfg post.Config) *post.Client {
	t.Helper()
	c, err := post.New(cfg)
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func mustURL(t testing.TB, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u
}

// rawServer accepts connections and runs serve on each; it returns the
// address and a count of accepted connections.
func rawServer(t *testing.T, serve func(c net.Conn, br *bufio.Reader)) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var conns atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			wg.Go(func() {
				defer func() { _ = c.Close() }()
				serve(c, bufio.NewReader(c))
			})
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	return ln.Addr().String(), &conns
}

// countingServer answers every request with code and body, and counts
// connections.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func TestRequestBytes(t *testing.T) {
	t.Parallel()
	got := make(chan []byte, 1)
	addr, _ := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		var req bytes.Buffer
		r, err := http.ReadRequest(bufio.NewReader(io.TeeReader(br, &req)))
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		got <- req.Bytes()
		_, _ = io.WriteString(c, "HTTP/1.1 204 No Content\r\n\r\n")
	})
	c := newClient(t, post.Config{})
	code, err := c.Do(t.Context(), &post.Request{
		URL: mustURL(t, "http://"+addr+"/push/here?a=1&b=%20"),
		Header: http.Header{
			"User-Agent":       {"Qcloud Notification Service Agent"},
			"x-cmq-message-id": {"M1"},
			"Content-Type":     {"text/plain"},
			"Content-md5":      {"ABC"},
			"x-evil":           {"a\r\nInjected: yes"},
		},
		Body: []byte("hello"),
	})
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, code)
	want := "POST /push/here?a=1&b=%20 HTTP/1.1\r\n" +
		"Host: " + addr + "\r\n" +
		"User-Agent: Qcloud Notification Service Agent\r\n" +
		"Content-Length: 5\r\n" +
		"Content-Type: text/plain\r\n" +
		"Content-md5: ABC\r\n" +
		"x-cmq-message-id: M1\r\n" +
		"x-evil: a  Injected: yes\r\n" +
		"\r\n" +
		"hello"
	require.Equal(t, want, string(<-got))
}

func TestConnectionReuse(t *testing.T) {
	t.Parallel()
	var closeNext atomic.Bool
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if closeNext.Load() {
			w.Header().Set("Connection", "close")
		}
		switch r.URL.Path {
		case "/chunked":
			w.(http.Flusher).Flush() // no length: chunked
			_, _ = io.WriteString(w, "a chunked answer")
		case "/big":
			_, _ = io.WriteString(w, strings.Repeat("x", 10<<10))
		}
	})
	c := newClient(t, post.Config{MaxDiscard: 4 << 10})
	do := func(path string) {
		code, err := c.Do(t.Context(), &post.Request{URL: mustURL(t, srv.URL+path), Body: []byte("b")})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code)
	}
	for range 3 {
		do("/")
		do("/chunked")
	}
	require.Equal(t, int64(1), conns.Load(), "sized and chunked answers keep the connection")

	do("/big")
	do("/")
	require.Equal(t, int64(2), conns.Load(), "an answer past MaxDiscard costs its connection")

	closeNext.Store(true)
	do("/")
	do("/")
	require.Equal(t, int64(3), conns.Load(), "Connection: close is honored")
}

// A server that closes a kept-alive connection while it is idle: the next
// request fails on it before any answer, and goes out again on a new one.
func TestIdleConnectionClosedByServer(t *testing.T) {
	t.Parallel()
	var requests atomic.Int64
	addr, conns := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		r, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		requests.Add(1)
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		// and close, without saying so
	})
	c := newClient(t, post.Config{})
	u := mustURL(t, "http://"+addr+"/")
	for range 3 {
		code, err := c.Do(t.Context(), &post.Request{URL: u})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code)
	}
	require.Equal(t, int64(3), requests.Load(), "each request processed once")
	require.Equal(t, int64(3), conns.Load())
}

func TestCancelAbandonsAtOnce(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	srv, _ := countingServer(t, func(_ http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	c := newClient(t, post.Config{})
	ctx, cancel := context.WithCancelCause(t.Context())
	cause := errors.New("shutting down")
	go func() {
		<-arrived
		cancel(cause)
	}()
	start := time.Now()
	_, err := c.Do(ctx, &post.Request{URL: mustURL(t, srv.URL)})
	require.ErrorIs(t, err, cause)
	require.Less(t, time.Since(start), 5*time.Second)

	// A canceled context fails before dialing.
	_, err = c.Do(ctx, &post.Request{URL: mustURL(t, srv.URL)})
	require.Error(t, err)
}

func TestDeadline(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hang" {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}
	})
	defer close(release)
	c := newClient(t, post.Config{})
	start := time.Now()
	_, err := c.Do(t.Context(), &post.Request{URL: mustURL(t, srv.URL+"/hang"), Deadline: start.Add(200 * time.Millisecond)})
	require.ErrorIs(t, err, post.ErrTimeout)
	require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
	require.Less(t, time.Since(start), 5*time.Second)

	// A connection that answered within its deadline is reused with none.
	code, err := c.Do(t.Context(), &post.Request{URL: mustURL(t, srv.URL), Deadline: time.Now().Add(time.Minute)})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	code, err = c.Do(t.Context(), &post.Request{URL: mustURL(t, srv.URL)})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, int64(2), conns.Load(), "the timed-out connection is closed, the next one kept")

	_, err = c.Do(t.Context(), &post.Request{URL: mustURL(t, srv.URL), Deadline: time.Now().Add(-time.Second)})
	require.ErrorIs(t, err, post.ErrTimeout, "a deadline already passed fails at once")
}

func TestAnswerLimits(t *testing.T) {
	t.Parallel()
	addr, _ := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		r, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		switch r.URL.Path {
		case "/long":
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\n")
			line := "X-Pad: " + strings.Repeat("p", 1000) + "\r\n"
			for range 100 {
				if _, err := io.WriteString(c, line); err != nil {
					return
				}
			}
			_, _ = io.WriteString(c, "\r\n")
		case "/continue":
			_, _ = io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok")
		case "/garbage":
			_, _ = io.WriteString(c, "SMTP ready\r\n\r\n")
		}
	})
	c := newClient(t, post.Config{MaxHeaderBytes: 8 << 10})
	_, err := c.Do(t.Context(), &post.Request{URL: mustURL(t, "http://"+addr+"/long")})
	require.ErrorIs(t, err, post.ErrHeaderTooLong)

	code, err := c.Do(t.Context(), &post.Request{URL: mustURL(t, "http://"+addr+"/continue")})
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, code)

	_, err = c.Do(t.Context(), &post.Request{URL: mustURL(t, "http://"+addr+"/garbage")})
	require.Error(t, err)
}

func TestTLS(t *testing.T) {
	t.Parallel()
	resumed := make(chan bool, 2)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "HTTP/1.1", r.Proto)
		resumed <- r.TLS.DidResume
		w.Header().Set("Connection", "close") // the next request dials again
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(srv.Close)
	tlsCfg := srv.Client().Transport.(*http.Transport).TLSClientConfig
	c := newClient(t, post.Config{TLSConfig: tlsCfg})
	for _, want := range []bool{false, true} {
		code, err := c.Do(t.Context(), &post.Request{URL: mustURL(t, srv.URL)})
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, code)
		require.Equal(t, want, <-resumed, "the second connection resumes the first one's TLS session")
	}

	untrusted := newClient(t, post.Config{})
	_, err := untrusted.Do(t.Context(), &post.Request{URL: mustURL(t, srv.URL)})
	require.ErrorContains(t, err, "TLS handshake")
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	srv, conns := countingServer(t, func(http.ResponseWriter, *http.Request) {})
	var now atomic.Int64
	now.Store(time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC).UnixNano())
	c := newClient(t, post.Config{IdleTimeout: time.Minute, Now: func() time.Time { return time.Unix(0, now.Load()) }})
	do := func() {
		_, err := c.Do(t.Context(), &post.Request{URL: mustURL(t, srv.URL)})
		require.NoError(t, err)
	}
	do()
	now.Add(int64(59 * time.Second))
	do()
	require.Equal(t, int64(1), conns.Load())
	now.Add(int64(time.Minute))
	do()
	require.Equal(t, int64(2), conns.Load(), "a connection idle past IdleTimeout is not used")
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	c := newClient(t, post.Config{})
	for _, raw := range []string{"ftp://example.com/", "http:///nohost", "mailto:a@b"} {
		_, err := c.Do(t.Context(), &post.Request{URL: mustURL(t, raw)})
		require.Error(t, err, raw)
	}
	_, err := c.Do(t.Context(), &post.Request{})
	require.Error(t, err)
	_, err = post.New(post.Config{MaxIdle: -1})
	require.Error(t, err)
}

// FuzzAnswer feeds arbitrary bytes as an endpoint's answer: the client
// returns a status or an error, never panics and never hangs.
func FuzzAnswer(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Oops\r\n\r\n",
		"HTTP/1.0 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 999 What\r\nConnection: close\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffff\r\n",
		"garbage",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, answer []byte) {
		c, err := post.New(post.Config{
			MaxHeaderBytes: 4 << 10,
			MaxDiscard:     4 << 10,
			Dial: func(context.Context, string, string) (net.Conn, error) {
				client, server := net.Pipe()
				go func() {
					defer func() { _ = server.Close() }()
					_, _ = http.ReadRequest(bufio.NewReader(server))
					_, _ = server.Write(answer)
				}()
				return client, nil
			},
		})
		require.NoError(t, err)
		defer c.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		code, err := c.Do(ctx, &post.Request{URL: &url.URL{Scheme: "http", Host: "fuzz.example", Path: "/"}, Body: []byte("x")})
		if err == nil { // a final answer: 1xx ones are skipped, but for 101, which ends HTTP on the connection
			require.True(t, code == http.StatusSwitchingProtocols || code >= 200, "code %d", code)
		}
		require.NoError(t, ctx.Err(), "the answer must not hang the client")
	})
}

// BenchmarkDo posts a 256-byte body to a local receiver over one kept-alive
// connection per goroutine.
func BenchmarkDo(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	b.Cleanup(srv.Close)
	c := newClient(b, post.Config{})
	req := &post.Request{
		URL:    mustURL(b, srv.URL+"/push"),
		Header: http.Header{"Content-Type": {"text/plain"}, "User-Agent": {"Qcloud Notification Service Agent"}, "x-cmq-message-id": {"M"}},
		Body:   bytes.Repeat([]byte("m"), 256),
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Do(context.Background(), req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
