// Package post sends HTTP/1.1 POST requests over keep-alive connections
// pooled per endpoint, the one thing push needs from an HTTP client.
//
// net/http's Transport hands every request between the caller, a writer and a
// reader goroutine; on a busy endpoint that costs more CPU than the rest of a
// push. Here the goroutine that posts writes the request and reads the answer
// on a connection it holds alone, with net/http's own response parser. What
// push does not need is left out: proxies, redirects, compression, HTTP/2,
// cookies.
package post

import (
	"bufio"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Config sets up a Client.
type Config struct {
	// Dial opens connections. Defaults to a net.Dialer's DialContext.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// TLSConfig is used for https endpoints. Defaults to nil: system roots.
	TLSConfig *tls.Config
	// TLSHandshakeTimeout bounds a TLS handshake. Defaults to 10s.
	TLSHandshakeTimeout time.Duration
	// MaxIdlePerHost is how many idle connections are kept per endpoint.
	// Defaults to 16.
	MaxIdlePerHost int
	// MaxIdle is how many idle connections are kept over all endpoints.
	// Defaults to 4096.
	MaxIdle int
	// IdleTimeout closes connections idle for longer. Defaults to 90s.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds an answer's status line and headers; a longer
	// one fails the request. Defaults to 64 KiB.
	MaxHeaderBytes int64
	// MaxDiscard is how much of an answer's body is read (and dropped) so
	// the connection can be reused; a longer body closes it. Defaults to
	// 64 KiB.
	MaxDiscard int64
	// Now tells the time for idle accounting. Defaults to time.Now.
	Now func() time.Time
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Dial == nil {
		c.Dial = (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext
	}
	c.TLSHandshakeTimeout = cmp.Or(c.TLSHandshakeTimeout, 10*time.Second)
	c.MaxIdlePerHost = cmp.Or(c.MaxIdlePerHost, 16)
	c.MaxIdle = cmp.Or(c.MaxIdle, 4096)
	c.IdleTimeout = cmp.Or(c.IdleTimeout, 90*time.Second)
	c.MaxHeaderBytes = cmp.Or(c.MaxHeaderBytes, 64<<10)
	c.MaxDiscard = cmp.Or(c.MaxDiscard, 64<<10)
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	if c.TLSHandshakeTimeout < 0 || c.MaxIdlePerHost < 0 || c.MaxIdle < 0 || c.IdleTimeout < 0 ||
		c.MaxHeaderBytes < 0 || c.MaxDiscard < 0 {
		return errors.New("post: negative timeout, pool size or byte limit")
	}
	return nil
}

// ErrTimeout fails a request not answered by its Deadline.
var ErrTimeout = errors.New("post: no answer before the deadline")

// ErrHeaderTooLong fails an answer whose status line and headers pass
// Config.MaxHeaderBytes.
var ErrHeaderTooLong = errors.New("post: answer headers too long")

// Client posts requests. It is safe for concurrent use.
type Client struct {
	cfg      Config
	sessions tls.ClientSessionCache

	mu        sync.Mutex
	idle      map[string][]*conn // by endpoint, most recently used last
	idleCount int
	lastSweep time.Time
}

// New returns a Client.
func New(cfg Config) (*Client, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Client{
		cfg: cfg, sessions: tls.NewLRUClientSessionCache(1024),
		idle: make(map[string][]*conn), lastSweep: cfg.Now(),
	}, nil
}

// Request is one POST.
type Request struct {
	// URL is the target; its scheme is http or https.
	URL *url.URL
	// Header is written as it is: names verbatim, in map order.
	// Content-Length and Host are added.
	Header http.Header
	// Body is the request body.
	Body []byte
	// Deadline, when set, is when the request fails with ErrTimeout if it
	// has not been answered; a socket deadline, cheaper than a context's
	// timer.
	Deadline time.Time
}

// Do posts r and returns the answer's status code once its body has been
// read (up to Config.MaxDiscard). Canceling ctx abandons the request at once,
// whatever it is waiting for; the error then matches ctx's.
//
// A connection kept alive may have been closed by the server meanwhile: a
// request that fails on a reused connection before any byte of an answer
// arrived is sent once more on a new connection, as net/http does for
// requests it knows were not processed.
func (c *Client) Do(ctx context.Context, r *Request) (int, error) {
	t, err := c.target(r.URL)
	if err != nil {
		return 0, err
	}
	for {
		pc, err := c.get(ctx, t, r.Deadline)
		if err != nil {
			return 0, err
		}
		code, keep, err := c.roundTrip(ctx, pc, t, r)
		if err == nil {
			if keep {
				c.put(t.key, pc)
			} else {
				_ = pc.nc.Close()
			}
			return code, nil
		}
		_ = pc.nc.Close()
		if pc.reused && pc.lr.read == 0 && ctx.Err() == nil && closedByPeer(err) {
			continue // the server closed it while idle; the next get dials
		}
		return 0, err
	}
}

// CloseIdleConnections closes the connections not in use.
func (c *Client) CloseIdleConnections() {
	c.mu.Lock()
	idle := c.idle
	c.idle = make(map[string][]*conn)
	c.idleCount = 0
	c.mu.Unlock()
	for _, conns := range idle {
		for _, pc := range conns {
			_ = pc.nc.Close()
		}
	}
}

// target is where a request goes.
type target struct {
	key        string // scheme://host:port
	addr       string // host:port to dial
	serverName string // for TLS
	tls        bool
	host       string // the Host header
	uri        string // the request target
}

func (c *Client) target(u *url.URL) (target, error) {
	if u == nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return target{}, errors.New("post: URL must be http:// or https:// with a host")
	}
	t := target{tls: u.Scheme == "https", host: u.Host, uri: u.RequestURI(), serverName: u.Hostname()}
	port := u.Port()
	if port == "" {
		port = "80"
		if t.tls {
			port = "443"
		}
	}
	t.addr = net.JoinHostPort(t.serverName, port)
	t.key = u.Scheme + "://" + t.addr
	return t, nil
}

// conn is one connection with its buffers.
type conn struct {
	nc        net.Conn
	lr        *limitedReader
	br        *bufio.Reader
	bw        *bufio.Writer
	reused    bool
	idleSince time.Time
}

// get takes the most recently used idle connection of the endpoint, or
// dials a new one.
func (c *Client) get(ctx context.Context, t target, deadline time.Time) (*conn, error) {
	now := c.cfg.Now()
	c.mu.Lock()
	for conns := c.idle[t.key]; len(conns) > 0; conns = c.idle[t.key] {
		pc := conns[len(conns)-1]
		conns[len(conns)-1] = nil
		c.idle[t.key] = conns[:len(conns)-1]
		c.idleCount--
		if now.Sub(pc.idleSince) < c.cfg.IdleTimeout {
			c.mu.Unlock()
			pc.reused = true
			return pc, nil
		}
		_ = pc.nc.Close()
	}
	c.mu.Unlock()
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadlineCause(ctx, deadline, ErrTimeout)
		defer cancel()
	}
	pc, err := c.dial(ctx, t)
	if err != nil && errors.Is(context.Cause(ctx), ErrTimeout) {
		err = fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return pc, err
}

func (c *Client) dial(ctx context.Context, t target) (*conn, error) {
	nc, err := c.cfg.Dial(ctx, "tcp", t.addr)
	if err != nil {
		return nil, err
	}
	if t.tls {
		cfg := &tls.Config{}
		if c.cfg.TLSConfig != nil {
			cfg = c.cfg.TLSConfig.Clone()
		}
		if cfg.ClientSessionCache == nil {
			cfg.ClientSessionCache = c.sessions // resume instead of a full handshake
		}
		if cfg.ServerName == "" {
			cfg.ServerName = t.serverName
		}
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(nc, cfg)
		hctx, cancel := context.WithTimeout(ctx, c.cfg.TLSHandshakeTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			_ = nc.Close()
			return nil, fmt.Errorf("post: TLS handshake: %w", err)
		}
		nc = tc
	}
	lr := &limitedReader{r: nc}
	return &conn{nc: nc, lr: lr, br: bufio.NewReaderSize(lr, 4096), bw: bufio.NewWriterSize(nc, 4096)}, nil
}

// put keeps a connection for the next request to its endpoint, within the
// idle limits, and now and then closes the connections idle for too long.
func (c *Client) put(key string, pc *conn) {
	now := c.cfg.Now()
	pc.idleSince = now
	var stale []*conn
	c.mu.Lock()
	if now.Sub(c.lastSweep) >= c.cfg.IdleTimeout/2 {
		c.lastSweep = now
		stale = c.sweepLocked(now)
	}
	conns := c.idle[key]
	keep := len(conns) < c.cfg.MaxIdlePerHost && c.idleCount < c.cfg.MaxIdle
	if keep {
		c.idle[key] = append(conns, pc)
		c.idleCount++
	}
	c.mu.Unlock()
	if !keep {
		stale = append(stale, pc)
	}
	for _, s := range stale {
		_ = s.nc.Close()
	}
}

// sweepLocked takes the connections idle for too long out of the pools.
func (c *Client) sweepLocked(now time.Time) []*conn {
	var stale []*conn
	for key, conns := range c.idle {
		n := 0
		for n < len(conns) && now.Sub(conns[n].idleSince) >= c.cfg.IdleTimeout {
			n++ // oldest first
		}
		if len(conns) == 0 {
			delete(c.idle, key) // no entry kept per endpoint ever used
			continue
		}
		if n == 0 {
			continue
		}
		stale = append(stale, conns[:n]...)
		c.idleCount -= n
		if n == len(conns) {
			delete(c.idle, key)
			continue
		}
		c.idle[key] = append(conns[:0:0], conns[n:]...)
	}
	return stale
}

// bodySlack is room for chunk framing while reading a body.
const bodySlack = 4 << 10

// longAgo is a deadline in the past: it fails the connection's blocked and
// future reads and writes at once.
var longAgo = time.Unix(1, 0)

// roundTrip writes r on pc and reads the answer. keep says whether pc can
// carry another request.
func (c *Client) roundTrip(ctx context.Context, pc *conn, t target, r *Request) (code int, keep bool, err error) {
	stop := context.AfterFunc(ctx, func() { _ = pc.nc.SetDeadline(longAgo) })
	defer func() {
		if !stop() { // ctx ended during the request: the deadline is spoiled
			keep = false
			if err != nil {
				err = fmt.Errorf("post: %w (%w)", context.Cause(ctx), err)
			}
		}
	}()
	if err := pc.nc.SetDeadline(r.Deadline); err != nil {
		return 0, false, err
	}
	defer func() {
		if err != nil && !r.Deadline.IsZero() && errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("%w: %w", ErrTimeout, err)
		}
	}()
	pc.lr.read, pc.lr.limit = 0, c.cfg.MaxHeaderBytes
	if err := writeRequest(pc.bw, t, r); err != nil {
		return 0, false, err
	}
	var resp *http.Response
	for {
		resp, err = http.ReadResponse(pc.br, nil)
		if err != nil {
			if pc.lr.read >= pc.lr.limit {
				err = ErrHeaderTooLong
			}
			return 0, false, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		_ = resp.Body.Close() // 1xx: informational, the answer follows
	}
	// The body may pull MaxDiscard+1 bytes, plus chunk framing, past the
	// headers and what the reader already holds.
	pc.lr.limit = pc.lr.read + c.cfg.MaxDiscard + 1 + bodySlack
	n, err := io.Copy(io.Discard, io.LimitReader(resp.Body, c.cfg.MaxDiscard+1))
	keep = err == nil && n <= c.cfg.MaxDiscard && !resp.Close &&
		(resp.ContentLength >= 0 || isChunked(resp)) && resp.StatusCode != http.StatusSwitchingProtocols
	return resp.StatusCode, keep, nil
}

func isChunked(resp *http.Response) bool {
	return len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] == "chunked"
}

// writeRequest writes the request line, headers and body, and flushes. The
// headers come in net/http's order: Host, User-Agent, Content-Length, then
// the rest sorted by name.
func writeRequest(w *bufio.Writer, t target, r *Request) error {
	_, _ = w.WriteString("POST ")
	_, _ = w.WriteString(t.uri)
	_, _ = w.WriteString(" HTTP/1.1\r\nHost: ")
	_, _ = w.WriteString(t.host)
	_, _ = w.WriteString("\r\n")
	var stack [24]string
	names := stack[:0]
	for name := range r.Header {
		if name != "User-Agent" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	writeHeader(w, "User-Agent", r.Header["User-Agent"])
	_, _ = w.WriteString("Content-Length: ")
	var num [20]byte
	_, _ = w.Write(strconv.AppendInt(num[:0], int64(len(r.Body)), 10))
	_, _ = w.WriteString("\r\n")
	for _, name := range names {
		writeHeader(w, name, r.Header[name])
	}
	_, _ = w.WriteString("\r\n")
	_, _ = w.Write(r.Body)
	return w.Flush()
}

func writeHeader(w *bufio.Writer, name string, values []string) {
	for _, v := range values {
		_, _ = w.WriteString(name)
		_, _ = w.WriteString(": ")
		writeValue(w, v)
		_, _ = w.WriteString("\r\n")
	}
}

// writeValue writes a header value with line breaks turned into spaces, as
// net/http does, so no value can start a header of its own.
func writeValue(w *bufio.Writer, v string) {
	if !strings.ContainsAny(v, "\r\n") {
		_, _ = w.WriteString(v)
		return
	}
	_, _ = w.WriteString(strings.NewReplacer("\r", " ", "\n", " ").Replace(v))
}

// closedByPeer reports whether err is how a connection the server already
// closed fails: EOF on read, a reset, or a broken pipe on write.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// limitedReader counts what is read from the connection and fails reads
// past limit, which bounds what one answer can make the client read.
type limitedReader struct {
	r     io.Reader
	read  int64
	limit int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	left := l.limit - l.read
	if left <= 0 {
		return 0, ErrHeaderTooLong
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := l.r.Read(p)
	l.read += int64(n)
	return n, err
}
