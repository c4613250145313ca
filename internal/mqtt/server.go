package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/guard"
)

// Server is the embedded broker with its MQTT, MQTT-over-TLS and HTTP
// publish gateway listeners.
type Server struct {
	cfg     Config
	log     *slog.Logger
	tls     *tls.Config // nil without tls_cert
	broker  *broker
	kv      KVFunc     // nil: state in memory only
	stream  StreamFunc // nil: the store lists keys through key watches
	given   Listeners  // opened by the caller
	gateway *Gateway
	handler http.Handler // the gateway with its metrics
	metrics *metrics

	mu        sync.Mutex
	state     state
	httpSrv   *http.Server
	served    chan struct{} // closed when the gateway's Serve returns
	mqttAddr  string
	tlsAddr   string
	httpAddr  string
	stopOnce  sync.Once
	stopError error
	lingering sync.WaitGroup // closed MQTT connections still draining
}

// Option adds an optional dependency to New.
type Option func(*options)

type options struct {
	kv      KVFunc
	stream  StreamFunc
	lns     Listeners
	cluster *Cluster
}

// Listeners are sockets the caller has opened for the server to serve in
// place of binding Config's addresses, so that a port in use is found
// before anything else is done. Each one set is served on its own
// protocol (TLS is wrapped around TLS by the server); the server closes
// them when it stops or fails to start.
type Listeners struct {
	// MQTT serves MQTT over TCP in place of Config.Addr.
	MQTT net.Listener
	// TLS serves MQTT over TLS in place of Config.TLSAddr.
	TLS net.Listener
	// HTTP serves the publish gateway in place of Config.HTTPAddr.
	HTTP net.Listener
}

// WithListeners serves the sockets in l instead of binding the configured
// addresses of those set.
func WithListeners(l Listeners) Option {
	return func(o *options) { o.lns = l }
}

// WithStore keeps the broker's durable state (persistent sessions, their
// subscriptions and inflight messages, retained messages) in the engine
// bucket Bucket, opened with kv when the server starts, so that it survives
// restarts and crashes; the bucket's stream, looked up with stream, is read
// to load every stored key and to purge an ended session's keys. Without it
// the broker keeps everything in memory.
func WithStore(kv KVFunc, stream StreamFunc) Option {
	return func(o *options) { o.kv, o.stream = kv, stream }
}

// New checks cfg (after WithDefaults), loads the TLS files and builds the
// broker; nothing listens until Start. A nil logger is slog.Default() and a
// nil clock the wall clock.
func New(cfg Config, logger *slog.Logger, clk clock.Clock, opts ...Option) (*Server, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if logger == nil {
		logger = slog.Default()
	}
	if clk == nil {
		clk = clock.Real{}
	}
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	tc, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	logger = logger.With("component", "mqtt")
	dir := newDirectory(cfg)
	if o.cluster != nil && o.kv == nil {
		return nil, errors.New("mqtt: a cluster needs a store (WithStore)")
	}
	b, err := newBroker(cfg, dir, logger, clk, o.kv != nil, o.cluster)
	if err != nil {
		return nil, err
	}
	g := &Gateway{
		broker:  b,
		dir:     dir,
		limits:  newLimiter(cfg.HTTPPublishRate, clk),
		maxBody: int64(cfg.MaxPacketSize),
		log:     logger,
	}
	m := newMetrics(b.srv.Info)
	return &Server{
		cfg:     cfg,
		log:     logger,
		tls:     tc,
		broker:  b,
		kv:      o.kv,
		stream:  o.stream,
		given:   o.lns,
		gateway: g,
		handler: m.instrument(g),
		metrics: m,
	}, nil
}

// Start binds every configured listener and starts serving; the listeners
// accept connections when it returns. On error, whatever was bound is closed.
func (s *Server) Start(ctx context.Context) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateNew {
		return errors.New("mqtt: server already started or stopped")
	}
	s.state = stateDone // until everything below has worked
	defer func() {
		if err != nil {
			_ = s.broker.srv.Close()
		}
	}()

	var ln net.Listener
	defer func() {
		if err != nil {
			s.given.close()
			if ln != nil {
				_ = ln.Close()
			}
		}
	}()
	if s.mqttAddr, err = s.addListener(ctx, "tcp", s.given.MQTT, s.cfg.Addr, nil); err != nil {
		return err
	}
	if s.cfg.TLSAddr != "" || s.given.TLS != nil {
		if s.tls == nil {
			return errors.New("mqtt: a TLS listener needs tls_cert and tls_key")
		}
		if s.tlsAddr, err = s.addListener(ctx, "tls", s.given.TLS, s.cfg.TLSAddr, s.tls); err != nil {
			return err
		}
	}
	if ln, err = s.listen(ctx, "http", s.given.HTTP, s.cfg.HTTPAddr, 0); err != nil {
		return fmt.Errorf("mqtt: gateway %w", err)
	}
	if ln != nil {
		s.httpAddr = ln.Addr().String()
	}
	cluster := s.broker.cluster
	defer func() {
		if err != nil && cluster != nil {
			cluster.close()
		}
	}()
	if s.broker.store != nil {
		var claim claimer
		if cluster != nil {
			kv, err := s.kv(ctx, Bucket, 1)
			if err != nil {
				return fmt.Errorf("mqtt: open store: %w", err)
			}
			if err := cluster.open(ctx, kv); err != nil {
				return err
			}
			claim = cluster
		}
		// Before Serve, which loads what this reads.
		if err := s.broker.store.open(ctx, s.kv, s.stream, claim); err != nil {
			return err
		}
		if cluster != nil {
			cluster.bucket = s.broker.store.bucket.(*streamBucket)
		}
	}
	if err := s.broker.srv.Serve(); err != nil {
		return fmt.Errorf("mqtt: serve: %w", err)
	}
	s.broker.running.Store(true)
	if cluster != nil {
		if err := cluster.follow(ctx); err != nil {
			return err
		}
	}
	if s.broker.store != nil {
		if err := s.broker.store.replayPending(s.broker); err != nil {
			s.log.Error("mqtt store: replaying acknowledged publishes failed; they stay stored for the next start", "error", err)
		}
	}
	s.state = stateRunning
	if ln != nil {
		s.serveGateway(ln)
	}
	s.log.Info("mqtt listening", "mqtt", s.mqttAddr, "tls", s.tlsAddr, "http", s.httpAddr, "https", s.cfg.HTTPTLS)
	return nil
}

// listen returns given, or a socket bound to addr (nil when both are
// unset: the listener is off), with the connection cap; a positive
// firstRead is the time a new connection has to send its first packet.
func (s *Server) listen(ctx context.Context, name string, given net.Listener, addr string, firstRead time.Duration) (net.Listener, error) {
	ln := given
	if ln == nil {
		if addr == "" {
			return nil, nil
		}
		var lc net.ListenConfig
		var err error
		if ln, err = lc.Listen(ctx, "tcp", addr); err != nil {
			return nil, fmt.Errorf("listen on %s: %w", addr, err)
		}
	}
	if name != "http" {
		ln = lingerListener{Listener: ln, wg: &s.lingering}
	}
	return guard.Listener(ln, guard.ListenerConfig{
		Name: "mqtt-" + name, MaxConns: s.cfg.MaxConns, FirstReadTimeout: firstRead, Log: s.log,
	}), nil
}

// addListener adds an MQTT listener (given, or bound to addr; over TLS with
// tc) to the broker and returns its address, or "" when it is off. A client
// must send CONNECT within guard.HeaderTimeout; mochi then replaces the
// deadline by its keep-alive.
func (s *Server) addListener(ctx context.Context, id string, given net.Listener, addr string, tc *tls.Config) (string, error) {
	ln, err := s.listen(ctx, id, given, addr, guard.HeaderTimeout)
	if err != nil || ln == nil {
		return "", err
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	if err := s.broker.srv.AddListener(listeners.NewNet(id, ln)); err != nil {
		_ = ln.Close()
		return "", fmt.Errorf("mqtt: listen on %s: %w", addr, err)
	}
	return ln.Addr().String(), nil
}

// close closes the sockets set.
func (l Listeners) close() {
	for _, ln := range []net.Listener{l.MQTT, l.TLS, l.HTTP} {
		if ln != nil {
			_ = ln.Close()
		}
	}
}

func (s *Server) serveGateway(ln net.Listener) {
	if s.cfg.HTTPTLS {
		tc := s.tls.Clone()
		tc.NextProtos = []string{"http/1.1"} // the gateway speaks HTTP/1.0 and 1.1 only
		ln = tls.NewListener(ln, tc)
	}
	s.httpSrv = guard.Server(s.handler, s.cfg.HTTPReadTimeout, slog.NewLogLogger(s.log.Handler(), slog.LevelDebug))
	s.httpSrv.ConnContext = s.gateway.connContext
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		if err := s.httpSrv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("mqtt gateway stopped", "error", err)
		}
	}()
}

// Stop stops accepting, lets in-flight gateway requests finish, then
// disconnects the MQTT clients (reason "server shutting down") and closes
// the broker. It returns ctx's error if that takes longer than ctx allows.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		running, httpSrv, served := s.state == stateRunning, s.httpSrv, s.served
		s.state = stateDone
		s.mu.Unlock()
		if !running {
			return
		}
		var errs []error
		if httpSrv != nil {
			if err := httpSrv.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("mqtt: gateway shutdown: %w", err))
				_ = httpSrv.Close()
			}
			<-served
		}
		s.broker.running.Store(false)
		if s.broker.cluster != nil {
			s.broker.cluster.close()
		}
		closed := make(chan struct{})
		go func() {
			defer close(closed)
			_ = s.broker.srv.Close()
		}()
		select {
		case <-closed:
			if s.broker.cluster != nil {
				s.broker.cluster.lastCheckpoint()
			}
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("mqtt: broker close: %w", ctx.Err()))
		}
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			s.lingering.Wait()
		}()
		select {
		case <-drained:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("mqtt: closing connections: %w", ctx.Err()))
		}
		s.stopError = errors.Join(errs...)
	})
	return s.stopError
}

// MQTTAddr returns the MQTT TCP listener's host:port, or "" when it is off
// or not started.
func (s *Server) MQTTAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mqttAddr
}

// TLSAddr returns the MQTT-over-TLS listener's host:port, or "".
func (s *Server) TLSAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tlsAddr
}

// HTTPAddr returns the gateway's host:port, or "".
func (s *Server) HTTPAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.httpAddr
}

// Handler returns the gateway as the HTTP server serves it (with its
// metrics), for tests and benchmarks that call it directly. It publishes
// only between Start and Stop and answers 500 otherwise.
func (s *Server) Handler() http.Handler { return s.handler }

type state int

const (
	stateNew state = iota
	stateRunning
	stateDone
)

// broker is the embedded mochi-mqtt server with the settings herald chooses.
type broker struct {
	srv     *mochi.Server
	store   *storeHook   // nil without a store
	cluster *clusterHook // nil on its own
	running atomic.Bool
	clients sync.Pool // of inline *mochi.Client that publish for the gateway
	remote  sync.Pool // of inline *mochi.Client that publish what other brokers accepted
}

func newBroker(cfg Config, dir *directory, logger *slog.Logger, clk clock.Clock, durable bool, cluster *Cluster) (*broker, error) {
	caps := mochi.NewDefaultServerCapabilities()
	// mochi expires every message and retained message after 24 hours by
	// default, and stamps that expiry on messages that had none. MQTT 5 has
	// messages live until their own MessageExpiryInterval, so: no cap.
	caps.MaximumMessageExpiryInterval = 0
	// Mochi's defaults, kept on purpose (see the package doc): per client,
	// at most 8192 QoS 1/2 messages awaiting acknowledgement
	// (MaximumInflight) and 8192 messages queued for writing
	// (MaximumClientWritesPending); beyond either, messages to that client
	// are dropped and counted. Sessions live as long as the client asks.
	caps.MaximumInflight = 8192
	caps.MaximumClientWritesPending = 8192
	caps.MaximumSessionExpiryInterval = math.MaxUint32
	caps.MaximumPacketSize = uint32(cfg.MaxPacketSize)
	// An acknowledgement carries no properties of the packet it
	// acknowledges (mochi copies them by default; MQTT 5 clients such as
	// paho-mqtt fail on the copied user properties).
	caps.Compatibilities.NoInheritedPropertiesOnAck = true
	srv := mochi.New(&mochi.Options{Capabilities: caps, Logger: slog.New(mochiLog{logger.Handler()})})
	refused := &refusals{}
	if err := srv.AddHook(&authHook{dir: dir, refusals: refused}, nil); err != nil {
		return nil, fmt.Errorf("mqtt: add auth hook: %w", err)
	}
	b := &broker{srv: srv}
	if durable {
		b.store = newStoreHook()
		b.store.srv = srv
	}
	if cluster != nil {
		// After the ACL check of a publish; before the protocol hook, which
		// orders a resumed session's messages, and the store: a connecting
		// client's session is taken over and read before they see it.
		b.cluster = newClusterHook(*cluster, b, clk)
		if b.store != nil {
			b.store.node = b.cluster.node
		}
		if err := srv.AddHook(b.cluster, nil); err != nil {
			return nil, fmt.Errorf("mqtt: add cluster hook: %w", err)
		}
	}
	protocol := &protocolHook{
		srv:           srv,
		maxPacketSize: caps.MaximumPacketSize,
		maxKeepAlive:  uint16(cfg.MaxKeepAlive),
		refusals:      refused,
	}
	if err := srv.AddHook(protocol, nil); err != nil {
		return nil, fmt.Errorf("mqtt: add protocol hook: %w", err)
	}
	if durable {
		if err := srv.AddHook(b.store, nil); err != nil {
			return nil, fmt.Errorf("mqtt: add store hook: %w", err)
		}
	}
	b.clients.New = func() any { return newInline(srv, "http") }
	b.remote.New = func() any { return newInline(srv, clusterListener) }
	return b, nil
}

func newInline(srv *mochi.Server, listener string) *mochi.Client {
	cl := srv.NewClient(nil, listener, "", true)
	// Version 5, so that expiry of retained gateway messages follows
	// their MessageExpiryInterval as for any MQTT 5 publisher.
	cl.Properties.ProtocolVersion = 5
	return cl
}

// inject publishes pk as client clientID. The inline client skips the
// broker's ACL (the gateway has checked it) and the QoS handshake (there is
// no one to acknowledge): the message goes straight to the subscribers'
// sessions, at the lower of its QoS and each subscription's. With a store,
// mochi's hooks have stored the retained message and the persistent
// sessions' inflight copies when InjectPacket returns; if a store write
// failed meanwhile (perhaps another publish's), inject reports it, so that
// nothing is acknowledged that may not have been stored.
func (b *broker) inject(clientID string, pk packets.Packet) error {
	return b.injectFrom("http", clientID, pk)
}

// injectFrom is inject through an inline client of listener: "http" for
// the gateway (and replays), clusterListener for what another broker
// accepted, which is not forwarded again.
func (b *broker) injectFrom(listener, clientID string, pk packets.Packet) error {
	if !b.running.Load() {
		return ErrStopped
	}
	var failures uint64
	if b.store != nil {
		failures = b.store.failures.Load()
	}
	pool := &b.clients
	if listener == clusterListener {
		pool = &b.remote
	}
	cl := pool.Get().(*mochi.Client)
	cl.ID = clientID // the message's origin, for No Local subscriptions
	err := b.srv.InjectPacket(cl, pk)
	cl.ID = ""
	pool.Put(cl)
	if err != nil {
		return fmt.Errorf("mqtt: inject publish: %w", err)
	}
	if b.store != nil && b.store.failures.Load() != failures {
		return ErrNotStored
	}
	return nil
}

// mochiLog is the handler of the logger mochi gets. mochi logs every
// publish that a hook refuses as an ERROR "publish packet error" with the
// whole packet, payload included: for herald those are ACL refusals, which
// the client is told about, and store failures, which the store logs
// itself. They go to DEBUG.
type mochiLog struct{ slog.Handler }

const mochiRefusedPublish = "publish packet error"

func (h mochiLog) Enabled(ctx context.Context, l slog.Level) bool {
	// An ERROR may become a DEBUG: let Handle decide.
	return h.Handler.Enabled(ctx, l) || h.Handler.Enabled(ctx, slog.LevelDebug)
}

func (h mochiLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == mochiRefusedPublish && r.Level == slog.LevelError {
		quiet := slog.NewRecord(r.Time, slog.LevelDebug, r.Message, r.PC)
		r.Attrs(func(a slog.Attr) bool {
			quiet.AddAttrs(a)
			return true
		})
		r = quiet
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h mochiLog) WithAttrs(attrs []slog.Attr) slog.Handler {
	return mochiLog{h.Handler.WithAttrs(attrs)}
}

func (h mochiLog) WithGroup(name string) slog.Handler { return mochiLog{h.Handler.WithGroup(name)} }
