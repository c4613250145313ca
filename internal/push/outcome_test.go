package push_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/push"
)

// statusServer answers every request with code and counts the connections
// it accepted.
func statusServer(t *testing.T, code int, body string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func TestOutcomeByStatus(t *testing.T) {
	t.Parallel()
	keys := certServer(t)
	tests := []struct {
		code      int
		mns       bool
		delivered bool
		sigReject bool
	}{
		{200, false, true, false},
		{201, true, true, false},
		{204, true, true, false},
		{299, false, true, false},
		{302, false, false, false}, // redirects are not followed
		{400, false, false, false},
		{403, false, false, false}, // unsigned: just a failure
		{403, true, false, true},   // signed: the receiver rejected the signature
		{404, true, false, false},
		{500, true, false, false},
		{503, false, false, false},
	}
	for _, tt := range tests {
		srv, _ := statusServer(t, tt.code, "")
		p := newPusher(t, push.Config{Signer: keys})
		tgt := push.Target{URL: srv.URL}
		if tt.mns {
			tgt.Dialect = push.DialectMNS
		}
		o := p.Push(t.Context(), &push.Job{Message: fixtureMessage(), Target: tgt})
		require.Equal(t, tt.code, o.Code)
		require.Equal(t, tt.delivered, o.Delivered(), "%d", tt.code)
		require.Equal(t, tt.sigReject, o.SignatureRejected, "%d", tt.code)
		require.False(t, o.Timeout)
		if tt.delivered {
			require.Equal(t, push.StatusDelivered, o.Status)
			require.NoError(t, o.Err)
			continue
		}
		require.Equal(t, push.StatusFailed, o.Status)
		var se *push.StatusError
		require.ErrorAs(t, o.Err, &se)
		require.Equal(t, tt.code, se.Code)
		require.Equal(t, tt.sigReject, errors.Is(o.Err, push.ErrSignatureRejected))
	}
}

func TestResponseBodyIsDrainedForReuse(t *testing.T) {
	t.Parallel()
	small, smallConns := statusServer(t, 200, "fine")
	big, bigConns := statusServer(t, 500, strings.Repeat("x", 1<<20))
	p := newPusher(t, push.Config{MaxDiscard: 64 << 10})
	for range 3 {
		require.True(t, p.Push(t.Context(), &push.Job{Message: fixtureMessage(), Target: push.Target{URL: small.URL}}).Delivered())
		require.Equal(t, 500, p.Push(t.Context(), &push.Job{Message: fixtureMessage(), Target: push.Target{URL: big.URL}}).Code)
	}
	require.Equal(t, int64(1), smallConns.Load(), "a drained small answer keeps the connection")
	require.Equal(t, int64(3), bigConns.Load(), "an answer past MaxDiscard is cut off with its connection")
}

// hangServer accepts requests and answers none until the test ends or the
// client goes away; arrived receives one value per request.
func hangServer(t *testing.T) (*httptest.Server, chan struct{}) {
	t.Helper()
	arrived := make(chan struct{}, 1024)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() {
		close(release)
		srv.Close()
	})
	return srv, arrived
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func TestTimeoutOnTheInjectedClock(t *testing.T) {
	t.Parallel()
	srv, arrived := hangServer(t)
	clk := clock.NewFake(pushTime)
	p := newPusher(t, push.Config{Clock: clk, Timeout: 15 * time.Second})
	done := make(chan push.Outcome, 1)
	go func() {
		done <- p.Push(t.Context(), &push.Job{Message: fixtureMessage(), Target: push.Target{URL: srv.URL}})
	}()
	waitFor(t, arrived, "the push")
	require.True(t, clk.WaitForTimers(1, t.Context().Done()))
	clk.Advance(15*time.Second - time.Nanosecond)
	select {
	case o := <-done:
		t.Fatalf("ended before the timeout: %+v", o)
	default:
	}
	clk.Advance(time.Nanosecond)
	o := <-done
	require.Equal(t, push.StatusFailed, o.Status)
	require.True(t, o.Timeout)
	require.ErrorIs(t, o.Err, push.ErrTimeout)
	require.Zero(t, o.Code)
	require.Equal(t, 15*time.Second, o.Elapsed)
}

func TestTimeoutOnTheRealClock(t *testing.T) {
	t.Parallel()
	srv, _ := hangServer(t)
	p := newPusher(t, push.Config{Clock: clock.Real{}, Timeout: 50 * time.Millisecond})
	o := p.Push(t.Context(), &push.Job{Message: fixtureMessage(), Target: push.Target{URL: srv.URL}})
	require.True(t, o.Timeout)
	require.ErrorIs(t, o.Err, push.ErrTimeout)
}

func TestCancelAbandons(t *testing.T) {
	t.Parallel()
	srv, arrived := hangServer(t)
	p := newPusher(t, push.Config{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan push.Outcome, 1)
	go func() { done <- p.Push(ctx, &push.Job{Message: fixtureMessage(), Target: push.Target{URL: srv.URL}}) }()
	waitFor(t, arrived, "the push")
	cancel()
	o := <-done
	require.Equal(t, push.StatusAbandoned, o.Status)
	require.ErrorIs(t, o.Err, push.ErrStopped)
	require.False(t, o.Timeout)

	o = p.Push(ctx, &push.Job{Message: fixtureMessage(), Target: push.Target{URL: srv.URL}})
	require.Equal(t, push.StatusAbandoned, o.Status, "not even started")
}

func TestFailuresWithoutAnswer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	p := newPusher(t, push.Config{})
	tests := []struct {
		name   string
		target push.Target
		is     error
	}{
		{"connection refused", push.Target{URL: closed}, nil},
		{"not a URL", push.Target{URL: "::"}, push.ErrEndpointInvalid},
		{"no signer for MNS", push.Target{URL: closed, Format: push.FormatXML}, push.ErrNoSigner},
		{"bad webhook secret", push.Target{URL: closed, WebhookSecrets: []string{"whsec_short"}}, push.ErrWebhookSecret},
		{"unknown format", push.Target{URL: closed, Dialect: push.DialectCMQ, Format: "YAML"}, nil},
	}
	for _, tt := range tests {
		o := p.Push(t.Context(), &push.Job{Message: fixtureMessage(), Target: tt.target})
		require.Equal(t, push.StatusFailed, o.Status, tt.name)
		require.Error(t, o.Err, tt.name)
		require.Zero(t, o.Code, tt.name)
		if tt.is != nil {
			require.ErrorIs(t, o.Err, tt.is, tt.name)
		}
	}
}
