// Package guard bounds what a client can hold of a herald process: how many
// connections each listener keeps open at once, how long a request body may
// take to arrive, and how long a new connection may take to introduce
// itself. Without these, connections that send a few bytes and stall each
// hold a file descriptor until the process runs out of them, and then the
// engine can no longer open its own files.
package guard

import (
	"cmp"
	"errors"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/herald-mq/herald/internal/clock"
)

// HeaderTimeout is how long a client has, from its first byte, to send an
// HTTP request line and headers, or, on MQTT, from the connection to its
// CONNECT packet.
const HeaderTimeout = 10 * time.Second

// DefaultReadTimeout is how long a client has to send a whole HTTP request,
// headers and body, when no timeout is configured.
const DefaultReadTimeout = 30 * time.Second

// idleTimeout closes keep-alive connections that send no new request.
const idleTimeout = 2 * time.Minute

// ListenerConfig says how Listener guards one listener.
type ListenerConfig struct {
	// Name names the listener in log lines, e.g. "http". Defaults to the
	// listener's address.
	Name string
	// MaxConns is how many accepted connections may be open at once; while
	// that many are, Accept waits and new connections stay in the kernel's
	// accept queue, costing the process nothing. Defaults to 0: no cap.
	MaxConns int
	// FirstReadTimeout, if positive, is set as the read deadline of each
	// accepted connection, for protocols whose server replaces the deadline
	// once the client has introduced itself (mochi does after CONNECT).
	// Defaults to 0: none.
	FirstReadTimeout time.Duration
	// Log receives a warning, at most once a minute, while the listener is
	// at its cap or accepting fails. Defaults to slog.Default().
	Log *slog.Logger
	// Clock paces those warnings. Defaults to the wall clock.
	Clock clock.Clock
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c ListenerConfig) WithDefaults() ListenerConfig {
	c.Log = cmp.Or(c.Log, slog.Default())
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	return c
}

// Listener returns ln guarded by cfg. Accept errors that pass by themselves
// (out of file descriptors, a connection reset before it was accepted) are
// retried after a pause of up to a second instead of returned, because some
// servers (mochi's listeners) stop serving on the first Accept error.
// Closing the returned listener wakes an Accept waiting for a free slot.
func Listener(ln net.Listener, cfg ListenerConfig) net.Listener {
	cfg = cfg.WithDefaults()
	cfg.Name = cmp.Or(cfg.Name, ln.Addr().String())
	l := &listener{Listener: ln, cfg: cfg, done: make(chan struct{})}
	if cfg.MaxConns > 0 {
		l.slots = make(chan struct{}, cfg.MaxConns)
	}
	return l
}

type listener struct {
	net.Listener
	cfg       ListenerConfig
	slots     chan struct{} // one token per open connection; nil: no cap
	done      chan struct{} // closed by Close
	closeOnce sync.Once
	warnMu    sync.Mutex
	warned    time.Time
}

// warnEvery paces the warnings of a listener under attack.
const warnEvery = time.Minute

func (l *listener) Accept() (net.Conn, error) {
	if !l.acquire() {
		return nil, net.ErrClosed
	}
	var pause time.Duration
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			if l.cfg.FirstReadTimeout > 0 {
				_ = c.SetReadDeadline(time.Now().Add(l.cfg.FirstReadTimeout))
			}
			return &conn{Conn: c, release: l.release}, nil
		}
		if !passing(err) {
			l.release()
			return nil, err
		}
		pause = min(max(2*pause, 5*time.Millisecond), time.Second)
		l.warn("accepting a connection failed; retrying", "error", err, "retry_in", pause)
		t := l.cfg.Clock.NewTimer(pause)
		select {
		case <-t.C():
		case <-l.done:
			t.Stop()
			l.release()
			return nil, net.ErrClosed
		}
	}
}

// acquire takes a slot, waiting for one while the listener is at its cap;
// it reports false if the listener is closed first.
func (l *listener) acquire() bool {
	if l.slots == nil {
		return true
	}
	select {
	case l.slots <- struct{}{}:
		return true
	default:
	}
	l.warn("connection cap reached: new connections wait until open ones close",
		"max_connections", l.cfg.MaxConns)
	select {
	case l.slots <- struct{}{}:
		return true
	case <-l.done:
		return false
	}
}

func (l *listener) release() {
	if l.slots != nil {
		<-l.slots
	}
}

func (l *listener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

func (l *listener) warn(msg string, args ...any) {
	l.warnMu.Lock()
	now := l.cfg.Clock.Now()
	due := l.warned.IsZero() || now.Sub(l.warned) >= warnEvery
	if due {
		l.warned = now
	}
	l.warnMu.Unlock()
	if due {
		l.cfg.Log.Warn(msg, append([]any{"listener", l.cfg.Name}, args...)...)
	}
}

// passing reports whether an Accept error goes away by itself: the process
// or the system is out of descriptors or buffers for a moment, or the
// client gave up before the connection was accepted.
func passing(err error) bool {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// conn frees its listener's slot when closed, once.
type conn struct {
	net.Conn
	release func()
	once    sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// Server returns an HTTP server for h that bounds every stage of a request
// a client controls: HeaderTimeout (or readTimeout if shorter) for the
// request line and headers, readTimeout (DefaultReadTimeout if not
// positive) for the whole request with its body, and 2 minutes for an idle keep-alive connection to send
// its next request. The read deadline ends when the handler has read the
// body to its end (net/http clears it to watch for the client going away),
// so a handler that then waits, a long poll, is not cut short; there is no
// write timeout, which would.
func Server(h http.Handler, readTimeout time.Duration, errorLog *log.Logger) *http.Server {
	if readTimeout <= 0 {
		readTimeout = DefaultReadTimeout
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(HeaderTimeout, readTimeout),
		ReadTimeout:       readTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          errorLog,
	}
}
