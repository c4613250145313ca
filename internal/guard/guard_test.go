package guard_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/guard"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// signalHandler is a slog handler that sends each message on a channel.
type signalHandler struct{ msgs chan string }

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	h.msgs <- r.Message
	return nil
}
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }

func listen(t *testing.T, cfg guard.ListenerConfig) (net.Listener, chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	msgs := make(chan string, 16)
	cfg.Log = slog.New(signalHandler{msgs})
	g := guard.Listener(ln, cfg)
	t.Cleanup(func() { _ = g.Close() })
	return g, msgs
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

type accepted struct {
	c   net.Conn
	err error
}

func acceptAsync(ln net.Listener) chan accepted {
	ch := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		ch <- accepted{c, err}
	}()
	return ch
}

func wait[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out")
		var zero T
		return zero
	}
}

func TestListenerHoldsAtMostMaxConnsAndFreesASlotOnClose(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Unix(1700000000, 0))
	ln, msgs := listen(t, guard.ListenerConfig{MaxConns: 2, Clock: clk})
	for range 4 {
		dial(t, ln.Addr().String())
	}
	first, err := ln.Accept()
	require.NoError(t, err)
	second, err := ln.Accept()
	require.NoError(t, err)
	defer second.Close()

	third := acceptAsync(ln)
	// Logged once Accept has found no free slot, before it waits for one.
	require.Equal(t, capReached, wait(t, msgs))
	select {
	case a := <-third:
		t.Fatalf("a third connection was accepted while two were open: %v", a)
	default:
	}
	require.NoError(t, first.Close())
	_ = first.Close() // a second Close frees nothing more
	a := wait(t, third)
	require.NoError(t, a.err)
	defer a.c.Close()

	clk.Advance(time.Minute) // the next warning is due
	fourth := acceptAsync(ln)
	require.Equal(t, capReached, wait(t, msgs), "two open again: the fourth waits")
	require.NoError(t, ln.Close())
	a = wait(t, fourth)
	require.ErrorIs(t, a.err, net.ErrClosed, "Close wakes an Accept waiting for a slot")
}

const capReached = "connection cap reached: new connections wait until open ones close"

// fakeListener returns the errors in errs, one per Accept, then conns.
type fakeListener struct {
	net.Listener
	mu   sync.Mutex
	errs []error
}

func (f *fakeListener) Accept() (net.Conn, error) {
	f.mu.Lock()
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		f.mu.Unlock()
		return nil, err
	}
	f.mu.Unlock()
	return f.Listener.Accept()
}

func TestListenerRetriesAcceptErrorsThatPass(t *testing.T) {
	t.Parallel()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	emfile := &net.OpError{Op: "accept", Net: "tcp", Err: fmt.Errorf("accept4: %w", syscall.EMFILE)}
	f := &fakeListener{Listener: inner, errs: []error{emfile, emfile}}
	msgs := make(chan string, 16)
	ln := guard.Listener(f, guard.ListenerConfig{MaxConns: 1, Log: slog.New(signalHandler{msgs})})
	defer ln.Close()
	dial(t, ln.Addr().String())
	c, err := ln.Accept()
	require.NoError(t, err, "EMFILE is retried, not returned (mochi would stop serving)")
	require.Equal(t, "accepting a connection failed; retrying", wait(t, msgs))
	require.Len(t, msgs, 0, "one warning a minute, not one per failure")
	require.NoError(t, c.Close())

	f.mu.Lock()
	f.errs = []error{errors.New("permanent")}
	f.mu.Unlock()
	_, err = ln.Accept()
	require.EqualError(t, err, "permanent")
	dial(t, ln.Addr().String())
	c, err = ln.Accept()
	require.NoError(t, err, "the failed Accept gave its slot back")
	require.NoError(t, c.Close())
}

func TestListenerFirstReadTimeout(t *testing.T) {
	t.Parallel()
	ln, _ := listen(t, guard.ListenerConfig{FirstReadTimeout: 50 * time.Millisecond})
	dial(t, ln.Addr().String())
	c, err := ln.Accept()
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Read(make([]byte, 1))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded, "a client that says nothing is not waited for")
}

func TestMaxConns(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		files uint64
		n     int
		want  int
	}{
		{0, 3, guard.DefaultMaxConns},
		{100, 1, 16},
		{256, 1, 16},
		{1024, 1, 768},
		{1024, 2, 384},
		{4096, 3, 1024},
		{1 << 20, 4, 196608},
	} {
		require.Equal(t, tc.want, guard.MaxConns(tc.files, tc.n), "%d files, %d listeners", tc.files, tc.n)
	}
}

// serve runs guard.Server for h on loopback with the given read timeout.
func serve(t *testing.T, h http.Handler, readTimeout time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := guard.Server(h, readTimeout, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return ln.Addr().String()
}

func TestSlowBodyIsCutAtTheDeadlineAndTheConnectionClosed(t *testing.T) {
	t.Parallel()
	readErr := make(chan error, 1)
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
		if err != nil {
			http.Error(w, "body too slow", http.StatusRequestTimeout)
		}
	}), 100*time.Millisecond)
	c := dial(t, addr)
	_, err := io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nAction=")
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	require.ErrorIs(t, wait(t, readErr), os.ErrDeadlineExceeded)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
	require.Equal(t, "body too slow\n", string(body))
	n, err := c.Read(make([]byte, 1))
	require.Equal(t, 0, n)
	require.ErrorIs(t, err, io.EOF, "the server closed the connection")
}

// A handler that waits after reading its body (a long poll) is not cut
// short by the read timeout, and the connection is then reused.
func TestReadTimeoutDoesNotCutALongPoll(t *testing.T) {
	t.Parallel()
	const timeout = 50 * time.Millisecond
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case <-r.Context().Done():
			return // what a read deadline left on the connection would do
		case <-time.After(6 * timeout):
		}
		_, _ = io.WriteString(w, "polled "+string(body))
	}), timeout)
	hc := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	defer hc.CloseIdleConnections()
	for i := range 2 {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+addr+"/", strings.NewReader(fmt.Sprint("q", i)))
		require.NoError(t, err)
		resp, err := hc.Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, fmt.Sprint("polled q", i), string(body))
	}
}
