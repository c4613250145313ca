// Package engine is herald's durable storage: NATS JetStream, either an
// in-process nats-server writing to the data directory (the zero set-up
// default) or an external JetStream cluster reached with --nats-url. Every
// other package stores through the streams and key-value buckets it opens, so
// herald processes hold no durable state of their own.
package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/herald-mq/herald/internal/engine/dirlock"
	"github.com/herald-mq/herald/internal/engine/kv"
	"github.com/herald-mq/herald/internal/engine/schedule"
	"github.com/herald-mq/herald/internal/engine/stream"
	"github.com/herald-mq/herald/internal/engine/workqueue"
)

// startTimeout bounds the embedded server's start; ctx ends it sooner.
const startTimeout = 30 * time.Second

// Config says where the engine lives and how hard it flushes.
type Config struct {
	// DataDir holds the embedded server's JetStream files. Defaults to "./data".
	DataDir string
	// NatsURL, when set, uses an external JetStream cluster instead of the
	// embedded server. Defaults to "" (embedded).
	NatsURL string
	// NatsCredentials is a .creds file for the external cluster. Defaults to none.
	NatsCredentials string
	// Replicas is the replica count of every stream and bucket. Defaults to 1
	// embedded and 3 with NatsURL.
	Replicas int
	// SyncInterval is how often the embedded server fsyncs its files. Writes
	// reach the operating system before a publish is acknowledged, so a killed
	// process loses nothing; a power loss or kernel crash can lose up to this
	// much. Defaults to 2 minutes (nats-server's default).
	SyncInterval time.Duration
	// SyncAlways fsyncs every write before acknowledging it: nothing is lost even
	// on power loss, at a large cost in throughput. Defaults to false.
	SyncAlways bool
	// ServerName names the embedded server. Defaults to "herald".
	ServerName string
	// MinFreeBytes is the free space below which the embedded engine's disk
	// counts as full: writes are refused and the engine is not ready.
	// Defaults to 8 MiB (the largest message herald writes).
	MinFreeBytes uint64
	// DiskCheckInterval is how often the embedded engine's free space is
	// read. Defaults to 1 second.
	DiskCheckInterval time.Duration
}

// WithDefaults returns the config with every unset field at its default.
func (c Config) WithDefaults() Config {
	c.DataDir = cmp.Or(c.DataDir, "./data")
	if c.NatsURL != "" {
		c.Replicas = cmp.Or(c.Replicas, 3)
	}
	c.Replicas = cmp.Or(c.Replicas, 1)
	c.SyncInterval = cmp.Or(c.SyncInterval, 2*time.Minute)
	c.ServerName = cmp.Or(c.ServerName, "herald")
	c.MinFreeBytes = cmp.Or(c.MinFreeBytes, 8<<20)
	c.DiskCheckInterval = cmp.Or(c.DiskCheckInterval, time.Second)
	return c
}

func (c Config) validate() error {
	if c.Replicas < 1 || c.Replicas > 5 {
		return fmt.Errorf("engine: replicas %d out of range 1..5", c.Replicas)
	}
	if c.NatsURL == "" && c.Replicas != 1 {
		return errors.New("engine: the embedded server keeps one replica; replicas > 1 needs --nats-url")
	}
	if c.SyncInterval < 0 {
		return errors.New("engine: negative sync interval")
	}
	return nil
}

// Engine is an open connection to JetStream.
type Engine struct {
	// NC is the NATS connection (in-process for the embedded server).
	NC *nats.Conn
	// JS is the JetStream API on NC.
	JS       jetstream.JetStream
	srv      *server.Server
	lock     *dirlock.Lock // the embedded server's data directory
	replicas int
	log      *slog.Logger
	closed   chan struct{} // closed when NC is closed
	disk     *disk         // the embedded server's storage; nil with an external one

	wq      *workqueue.Engine
	pubOnce sync.Once
	pub     *stream.Publisher
	pubErr  error
}

// Open starts the embedded server (or dials the external cluster) and
// returns a ready engine. The embedded server first takes the data
// directory for this process (see dirlock), so a second process on it, or a
// directory that cannot be written, fails at once with the reason; ctx
// ending stops a start that has not finished.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Engine, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	e := &Engine{replicas: cfg.Replicas, log: log, closed: make(chan struct{})}
	opts := []nats.Option{
		nats.ClosedHandler(func(*nats.Conn) { close(e.closed) }),
		nats.Name("herald"),
		nats.MaxReconnects(-1),
		nats.ReconnectBufSize(-1), // fail fast instead of buffering publishes nobody acknowledged
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Warn("nats async error", "subject", subject, "err", err)
		}),
	}
	url := cfg.NatsURL
	if url == "" {
		dir, err := filepath.Abs(cfg.DataDir)
		if err != nil {
			return nil, fmt.Errorf("engine: data dir: %w", err)
		}
		if e.lock, err = dirlock.Acquire(dir); err != nil {
			return nil, err
		}
		srv, err := startEmbedded(ctx, cfg, dir, log)
		if err != nil {
			_ = e.lock.Release()
			return nil, err
		}
		e.srv = srv
		if e.disk, err = watchDisk(cfg, srv, log); err != nil {
			e.shutdownServer()
			return nil, err
		}
		opts = append(opts, nats.InProcessServer(srv))
	} else if cfg.NatsCredentials != "" {
		opts = append(opts, nats.UserCredentials(cfg.NatsCredentials))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		e.shutdownServer()
		_ = e.lock.Release()
		return nil, fmt.Errorf("engine: connect: %w", err)
	}
	e.NC = nc
	if e.disk != nil {
		e.disk.conn.Store(nc)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		_ = e.Close()
		return nil, fmt.Errorf("engine: jetstream: %w", err)
	}
	e.JS = js
	e.wq = workqueue.NewEngine(nc, js, e.OpenStream)
	if _, err := js.AccountInfo(ctx); err != nil {
		_ = e.Close()
		return nil, fmt.Errorf("engine: jetstream not available: %w", err)
	}
	return e, nil
}

// startEmbedded starts the server on dir, which this process holds.
func startEmbedded(ctx context.Context, cfg Config, dir string, log *slog.Logger) (*server.Server, error) {
	// The server does not report a store it cannot write: it never becomes
	// ready. Check first, so the error says why.
	storeDir := filepath.Join(dir, "jetstream")
	if err := checkWritable(dir, storeDir); err != nil {
		return nil, err
	}
	opts := &server.Options{
		ServerName:   cfg.ServerName,
		DontListen:   true,
		JetStream:    true,
		StoreDir:     storeDir,
		SyncInterval: cfg.SyncInterval,
		SyncAlways:   cfg.SyncAlways,
		NoSigs:       true,
		// Big enough for the largest batch herald writes in one message.
		MaxPayload: 8 << 20,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("engine: embedded server: %w", err)
	}
	srv.SetLoggerV2(natsLogger{log: log.With("component", "nats")}, false, false, false)
	srv.Start()
	deadline := time.Now().Add(startTimeout)
	for !srv.ReadyForConnections(100 * time.Millisecond) {
		if err := ctx.Err(); err != nil {
			srv.Shutdown()
			srv.WaitForShutdown()
			return nil, fmt.Errorf("engine: embedded server start: %w", err)
		}
		if time.Now().After(deadline) {
			srv.Shutdown()
			srv.WaitForShutdown()
			return nil, fmt.Errorf("engine: embedded server did not start in %v", startTimeout)
		}
	}
	return srv, nil
}

// checkWritable creates storeDir if missing and creates and removes a file
// in it.
func checkWritable(dir, storeDir string) error {
	if err := os.MkdirAll(storeDir, 0o750); err != nil {
		return dirlock.NotWritable(dir, err)
	}
	f, err := os.CreateTemp(storeDir, ".probe-*")
	if err != nil {
		return dirlock.NotWritable(dir, err)
	}
	name := f.Name()
	err = f.Close()
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	if err != nil {
		return dirlock.NotWritable(dir, err)
	}
	return nil
}

// Replicas is the replica count streams and buckets are created with.
func (e *Engine) Replicas() int { return e.replicas }

// Embedded reports whether the engine runs in this process.
func (e *Engine) Embedded() bool { return e.srv != nil }

// Close flushes the connection and stops the embedded server.
func (e *Engine) Close() error {
	var err error
	if e.NC != nil && !e.NC.IsClosed() {
		// Drain sends what is buffered (acknowledgements among it) and
		// closes; give it a bound.
		if err = e.NC.Drain(); err == nil {
			select {
			case <-e.closed:
			case <-time.After(5 * time.Second):
				e.NC.Close()
			}
		} else {
			e.NC.Close()
		}
	}
	e.shutdownServer()
	if lerr := e.lock.Release(); err == nil {
		err = lerr
	}
	return err
}

func (e *Engine) shutdownServer() {
	if e.srv == nil {
		return
	}
	if e.disk != nil {
		e.disk.close()
	}
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

// Stream creates the stream or updates it to cfg, at the engine's replica
// count.
func (e *Engine) Stream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	cfg.Replicas = e.replicas
	cfg.Storage = jetstream.FileStorage
	var s jetstream.Stream
	err := setUp(ctx, func(ctx context.Context) (err error) {
		s, err = e.JS.CreateOrUpdateStream(ctx, cfg)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("engine: stream %s: %w", cfg.Name, err)
	}
	return s, nil
}

// ExpiringKV opens (creating if needed) a key-value bucket whose keys expire
// ttl after they are written.
func (e *Engine) ExpiringKV(ctx context.Context, bucket string, ttl time.Duration) (jetstream.KeyValue, error) {
	var kv jetstream.KeyValue
	err := setUp(ctx, func(ctx context.Context) (err error) {
		kv, err = e.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:   bucket,
			TTL:      ttl,
			Storage:  jetstream.FileStorage,
			Replicas: e.replicas,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("engine: bucket %s: %w", bucket, err)
	}
	return kv, nil
}

// KV opens (creating if needed) a key-value bucket keeping history revisions
// of each key.
//
// Buckets allow per-key TTLs (AllowMsgTTL, turned on by LimitMarkerTTL), so
// that a key removed with jetstream.PurgeTTL leaves a marker that expires
// instead of one that stays for ever; external servers before 2.11 get
// buckets without.
func (e *Engine) KV(ctx context.Context, bucket string, history uint8) (jetstream.KeyValue, error) {
	cfg := jetstream.KeyValueConfig{
		Bucket:         bucket,
		History:        cmp.Or(history, 1),
		Storage:        jetstream.FileStorage,
		Replicas:       e.replicas,
		LimitMarkerTTL: time.Minute,
	}
	var kv jetstream.KeyValue
	err := setUp(ctx, func(ctx context.Context) (err error) {
		kv, err = e.JS.CreateOrUpdateKeyValue(ctx, cfg)
		if errors.Is(err, jetstream.ErrLimitMarkerTTLNotSupported) { // an external server before 2.11
			cfg.LimitMarkerTTL = 0
			kv, err = e.JS.CreateOrUpdateKeyValue(ctx, cfg)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("engine: bucket %s: %w", bucket, err)
	}
	return kv, nil
}

// OpenStream creates the stream or updates it to cfg, at the engine's
// replica count.
func (e *Engine) OpenStream(ctx context.Context, cfg stream.Config) (*stream.Stream, error) {
	s, err := e.Stream(ctx, cfg.JetStream())
	if err != nil {
		return nil, err
	}
	return stream.Wrap(s), nil
}

// Consumer creates (or updates) a durable consumer on a stream whose
// messages are pushed to a handler (workqueue.Consumer).
func (e *Engine) Consumer(ctx context.Context, streamName string, cc workqueue.ConsumerConfig) (*workqueue.Consumer, error) {
	var c *workqueue.Consumer
	err := setUp(ctx, func(ctx context.Context) (err error) {
		c, err = e.wq.Consumer(ctx, streamName, cc)
		return err
	})
	return c, err
}

// Scheduler schedules messages on the stream named streamName, which must
// allow schedules.
func (e *Engine) Scheduler(ctx context.Context, streamName string) (*schedule.Scheduler, error) {
	return schedule.New(ctx, e.JS, streamName)
}

// WorkQueues serves the engine's work queues.
func (e *Engine) WorkQueues() *workqueue.Engine { return e.wq }

// Publisher is the engine's one publisher with acknowledgement, shared by
// every user of the connection.
func (e *Engine) Publisher() (*stream.Publisher, error) {
	e.pubOnce.Do(func() { e.pub, e.pubErr = stream.NewPublisher(e.NC) })
	return e.pub, e.pubErr
}

// Bucket opens (creating if needed) a key-value bucket keeping history
// revisions of each key, as KV does.
func (e *Engine) Bucket(ctx context.Context, bucket string, history uint8) (*kv.Bucket, error) {
	b, err := e.KV(ctx, bucket, history)
	if err != nil {
		return nil, err
	}
	return kv.New(b), nil
}

// ExpiringBucket opens (creating if needed) a key-value bucket whose keys
// expire ttl after they are written, as ExpiringKV does.
func (e *Engine) ExpiringBucket(ctx context.Context, bucket string, ttl time.Duration) (*kv.Bucket, error) {
	b, err := e.ExpiringKV(ctx, bucket, ttl)
	if err != nil {
		return nil, err
	}
	return kv.New(b), nil
}

// StreamStat is one stream's size.
type StreamStat struct {
	Name     string
	Messages uint64
	Bytes    uint64
}

// StreamStats lists every stream with its size; an error means JetStream did
// not answer.
func (e *Engine) StreamStats(ctx context.Context) ([]StreamStat, error) {
	var out []StreamStat
	l := e.JS.ListStreams(ctx)
	for info := range l.Info() {
		out = append(out, StreamStat{Name: info.Config.Name, Messages: info.State.Msgs, Bytes: info.State.Bytes})
	}
	if err := l.Err(); err != nil {
		return nil, fmt.Errorf("engine: list streams: %w", err)
	}
	return out, nil
}

// setUpBudget bounds how long creating a stream, bucket or consumer keeps being tried
// while the engine cannot serve it: a cluster that lost a node takes a few
// seconds to elect leaders, longer under load.
const setUpBudget = time.Minute

// setUpAttempt bounds one try, and setUpPause separates tries.
const (
	setUpAttempt = 10 * time.Second
	setUpPause   = 250 * time.Millisecond
)

// setUp runs create, trying it again while the engine is unavailable for
// now, until ctx ends or setUpBudget has passed; herald started against a
// cluster that is electing leaders then waits instead of exiting.
func setUp(ctx context.Context, create func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, setUpBudget)
	defer cancel()
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, setUpAttempt)
		err := create(attempt)
		cancelAttempt()
		if err == nil || !errors.Is(Classify(err, false), ErrUnavailable) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(setUpPause):
		}
	}
}
