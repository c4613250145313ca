package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ErrNotReady is the engine unable to take writes; the error says why.
var ErrNotReady = errors.New("engine not ready")

// disk watches the embedded server's storage: how much space is left, and
// whether the server failed a write for lack of it. The server marks a
// stream that failed a write as broken until JetStream is restarted, so once
// space is back the watcher restarts JetStream, which reloads every stream
// from its files; nothing acknowledged is lost since an acknowledged write is
// in the files.
type disk struct {
	dir       string
	minFree   uint64
	interval  time.Duration
	srv       *server.Server
	jsConfig  server.JetStreamConfig // what the server started JetStream with
	log       *slog.Logger
	full      atomic.Bool // less than minFree left, or a write failed for lack of space
	failed    atomic.Bool // the server failed a write since JetStream (re)started
	conn      atomic.Pointer[nats.Conn]
	restartMu sync.Mutex
	stopOnce  sync.Once
	stop      chan struct{}
	done      chan struct{}
}

// watchDisk starts watching the embedded server's storage (the directory
// startEmbedded gives it).
func watchDisk(cfg Config, srv *server.Server, log *slog.Logger) (*disk, error) {
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("engine: data dir: %w", err)
	}
	d := &disk{
		dir: filepath.Join(dir, "jetstream"), minFree: cfg.MinFreeBytes, interval: cfg.DiskCheckInterval,
		srv: srv, log: log, stop: make(chan struct{}), done: make(chan struct{}),
		jsConfig: server.JetStreamConfig{
			SyncInterval: cfg.SyncInterval, SyncAlways: cfg.SyncAlways, Strict: true, CompressOK: true,
		},
	}
	d.jsConfig.StoreDir = d.dir
	srv.SetLoggerV2(natsLogger{log: log.With("component", "nats"), onError: d.serverError}, false, false, false)
	go d.run()
	return d, nil
}

// serverError is called with every error line of the embedded server; a
// write that failed for lack of space marks the disk full.
func (d *disk) serverError(line string) {
	if !strings.Contains(line, outOfSpaceText) {
		return
	}
	d.failed.Store(true)
	if !d.full.Swap(true) {
		d.log.Error("engine: the disk is full: writes are refused until space is freed")
	}
}

func (d *disk) run() {
	defer close(d.done)
	t := time.NewTicker(d.interval)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			d.check()
		}
	}
}

func (d *disk) close() {
	d.stopOnce.Do(func() { close(d.stop) })
	<-d.done
}

// check reads the space left and, once there is enough again after a failed
// write, restarts JetStream.
func (d *disk) check() {
	free, err := freeBytes(d.dir)
	if err != nil {
		d.log.Warn("engine: cannot read the free space", "dir", d.dir, "err", err)
		return
	}
	low := free < d.minFree
	switch {
	case low:
		if !d.full.Swap(true) {
			d.log.Error("engine: the disk is full: writes are refused until space is freed",
				"dir", d.dir, "free_bytes", free, "min_free_bytes", d.minFree)
		}
	case d.failed.Load():
		if err := d.restartJetStream(); err != nil {
			d.log.Error("engine: restarting JetStream after the disk was full", "err", err)
			return
		}
		d.failed.Store(false)
		d.full.Store(false)
		// Reconnecting makes every consumer and watcher ask again at once,
		// instead of after its missed heartbeats.
		if nc := d.conn.Load(); nc != nil {
			_ = nc.ForceReconnect()
		}
		d.log.Info("engine: space freed, JetStream restarted: writes accepted again", "free_bytes", free)
	case d.full.Swap(false):
		d.log.Info("engine: space freed: writes accepted again", "free_bytes", free)
	}
}

// restartJetStream stops JetStream and starts it again from its files, as
// nats-server does itself when a configuration reload turns it back on.
func (d *disk) restartJetStream() error {
	d.restartMu.Lock()
	defer d.restartMu.Unlock()
	if d.srv.JetStreamEnabled() {
		if err := d.srv.ShutdownJetStream(); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
	}
	cfg := d.jsConfig
	return d.srv.EnableJetStream(&cfg)
}

func freeBytes(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil //nolint:gosec // Bsize is a positive block size
}

// Ready reports whether the engine can take writes: nil, or an error
// matching ErrNotReady that says why.
func (e *Engine) Ready(ctx context.Context) error {
	if e.NC.IsClosed() {
		return fmt.Errorf("%w: the connection is closed", ErrNotReady)
	}
	if !e.NC.IsConnected() {
		return fmt.Errorf("%w: not connected to the engine (reconnecting)", ErrNotReady)
	}
	if e.disk != nil {
		if e.disk.full.Load() {
			return fmt.Errorf("%w: the disk is full", ErrNotReady)
		}
		if !e.srv.JetStreamEnabled() {
			return fmt.Errorf("%w: JetStream is not running", ErrNotReady)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := e.JS.AccountInfo(ctx); err != nil {
		return fmt.Errorf("%w: JetStream does not answer: %w", ErrNotReady, err)
	}
	return nil
}

// Full reports whether the embedded engine's disk is full; false with an
// external engine.
func (e *Engine) Full() bool { return e.disk != nil && e.disk.full.Load() }

// Classify is the package's Classify with what the engine knows of its disk.
func (e *Engine) Classify(err error) error { return Classify(err, e.Full()) }
