// Package server assembles herald: it opens the engine, the account, topic,
// queue and push services, the CMQ API, the MQTT broker and its gateway, and
// runs them until the context ends.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/herald-mq/herald/internal/account"
	"github.com/herald-mq/herald/internal/api/cmq"
	"github.com/herald-mq/herald/internal/api/mns"
	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/config"
	"github.com/herald-mq/herald/internal/dashboard"
	"github.com/herald-mq/herald/internal/delivery"
	"github.com/herald-mq/herald/internal/delivery/retry"
	"github.com/herald-mq/herald/internal/engine"
	"github.com/herald-mq/herald/internal/lifecycle"
	"github.com/herald-mq/herald/internal/mqtt"
	"github.com/herald-mq/herald/internal/nonce"
	"github.com/herald-mq/herald/internal/push"
	"github.com/herald-mq/herald/internal/push/mnssign"
	"github.com/herald-mq/herald/internal/queue"
	"github.com/herald-mq/herald/internal/topic"
)

// ReadyLine is printed on stdout once every listener accepts.
const ReadyLine = "herald ready"

// shutdownBudget bounds a graceful stop (the contract says exit within 10 s);
// pushBudget is the part of it that pushes in flight get to finish before
// they are cut short and handed back to the engine for redelivery.
const (
	shutdownBudget = 8 * time.Second
	pushBudget     = 5 * time.Second
)

// Run serves until ctx ends, then stops gracefully: it builds herald on its
// listeners and engine, starts the services in order, and stops them in
// reverse before the engine closes.
func Run(ctx context.Context, cfg config.Config, stdout io.Writer, log *slog.Logger) error {
	always, interval, err := cfg.FsyncPolicy()
	if err != nil {
		return err
	}
	lns, err := listen(ctx, cfg)
	if err != nil {
		return err
	}
	defer lns.close()
	eng, err := engine.Open(ctx, engine.Config{
		DataDir: cfg.DataDir, NatsURL: cfg.NatsURL, NatsCredentials: cfg.NatsCreds,
		Replicas: replicas(cfg), SyncInterval: interval, SyncAlways: always,
	}, log)
	if err != nil {
		return err
	}
	defer func() { _ = eng.Close() }()
	services, failed, err := build(ctx, cfg, eng, lns, stdout, log)
	if err != nil {
		return err
	}
	return serve(ctx, stdout, log, failed, services...)
}

// serve starts services in order, prints ReadyLine, and once ctx ends (or
// a service fails while running) stops them in reverse within the
// shutdown budget. A start cut short by ctx ending is a stop, not an error.
func serve(ctx context.Context, stdout io.Writer, log *slog.Logger, failed <-chan error, services ...lifecycle.Named) error {
	running, err := lifecycle.Start(ctx, stopBudget, log, services...)
	if err != nil {
		if ctx.Err() != nil {
			log.Info("stopped during start-up", "err", err)
			return nil
		}
		return err
	}
	fmt.Fprintln(stdout, ReadyLine)
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-failed:
	}
	log.Info("shutting down")
	sctx, cancel := stopBudget()
	defer cancel()
	_ = running.Stop(sctx) // each failure is logged
	return runErr
}

func stopBudget() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), shutdownBudget)
}

// build assembles herald's services on eng and the listeners, in the order
// they start; failed reports a service that stops by itself.
func build(ctx context.Context, cfg config.Config, eng *engine.Engine, lns *sockets, stdout io.Writer, log *slog.Logger) (
	_ []lifecycle.Named, _ <-chan error, err error,
) {
	clk := clock.Real{}
	var undo []func() // what to close if a later step fails
	defer func() {
		for i := len(undo) - 1; i >= 0 && err != nil; i-- {
			undo[i]()
		}
	}()
	fail := func(err error) ([]lifecycle.Named, <-chan error, error) { return nil, nil, err }

	accountsKV, err := eng.KV(ctx, account.Bucket, 1)
	if err != nil {
		return fail(err)
	}
	accounts, err := account.Open(ctx, accountsKV, log)
	if err != nil {
		return fail(err)
	}
	undo = append(undo, accounts.Close)
	acct, created, err := accounts.Bootstrap(ctx, cfg.AppID, cfg.SecretID, cfg.SecretKey, clk.Now())
	if err != nil {
		return fail(err)
	}
	if created {
		fmt.Fprintf(stdout, "herald: generated API credentials (shown once): APPID=%d SecretId=%s SecretKey=%s\n",
			acct.AppID, acct.SecretID, acct.SecretKey)
	}

	topics, publisher, err := topic.Open(ctx, eng, clk, log)
	if err != nil {
		return fail(err)
	}
	undo = append(undo, topics.Close)

	statsKV, err := eng.Bucket(ctx, delivery.StatsBucket, 1)
	if err != nil {
		return fail(err)
	}
	stats := delivery.NewStats(statsKV, log)

	httpLn := lns.http
	keysKV, err := eng.Bucket(ctx, "herald_signing_keys", 1)
	if err != nil {
		return fail(err)
	}
	keyring, err := mnssign.Open(ctx, mnssign.Config{
		Store:   kvKeyStore{kv: keysKV, key: "mns"},
		BaseURL: publicURL(cfg, httpLn.Addr()),
		Clock:   clk,
		Logger:  log,
	})
	if err != nil {
		return fail(err)
	}
	pusher, err := push.New(push.Config{
		Timeout: cfg.PushTimeout, AllowPrivate: cfg.AllowPrivateEndpoints,
		Signer: keyring, Clock: clk,
	})
	if err != nil {
		return fail(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), buildInfo())
	sender, err := delivery.NewPushSender(pusher, push.DispatcherConfig{})
	if err != nil {
		return fail(err)
	}
	queues, err := queue.New(ctx, queue.Config{}, queue.Deps{
		Engine: eng.WorkQueues(), KV: eng.Bucket, Clock: clk, Log: log,
	})
	if err != nil {
		return fail(err)
	}
	undo = append(undo, func() { _ = queues.Stop(context.Background()) }) // stops following its bucket

	policies := retry.Config{Scale: cfg.RetryIntervalScale}
	deliveries, err := delivery.New(ctx, delivery.Config{
		AckWait: cfg.DeliveryAckWait,
		Policy:  func(strategy string) (delivery.RetryPolicy, error) { return retry.New(strategy, policies) },
	}, delivery.Deps{
		Engine: eng, Subs: topics, Sender: newMeteredSender(reg, sender), Queues: queueSink{queues},
		Record: stats, Clock: clk, Log: log,
	})
	if err != nil {
		return fail(err)
	}

	// Nonces are recorded in the engine, so that a replay is refused by
	// another process of a cluster and after a restart alike.
	nonces, err := nonce.Open(ctx, eng.ExpiringBucket, 2*cfg.SignatureWindow)
	if err != nil {
		return fail(err)
	}
	api, err := cmq.New(cmq.Config{
		SignatureWindow:          cfg.SignatureWindow,
		MaxSubscriptionsPerTopic: cfg.MaxSubscriptionsPerTopic,
		AllowPrivateEndpoints:    cfg.AllowPrivateEndpoints,
		EngineRetryTimeout:       cfg.EngineRetryTimeout,
	}, cmq.Deps{Accounts: accounts, Topics: topics, Messages: publisher, Stats: stats, Backlog: deliveries, Nonces: nonces, Queues: queues, Engine: eng, Admin: accounts, Clock: clk, Log: log})
	if err != nil {
		return fail(err)
	}

	// On an external engine, other herald processes may share it: their
	// brokers and this one behave as one.
	var cluster *mqtt.Cluster
	if !eng.Embedded() {
		cluster = &mqtt.Cluster{Conn: eng.NC, JS: eng.JS, Stream: eng.Stream}
	}
	broker, err := newMQTT(cfg, clk, log, eng.KV, eng.JS.Stream, cluster, lns.mqtt)
	if err != nil {
		return fail(err)
	}
	reg.MustRegister(broker.Collectors()...)
	reg.MustRegister(newStateCollector(queues, eng))

	mux := http.NewServeMux()
	apiHandler := instrument(reg, cmqMetrics, api)
	mux.Handle("/v2/index.php", apiHandler)
	mux.Handle("/{$}", apiHandler)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.Handle("GET /readyz", readyHandler(readyChecks(cfg.Delivery, eng, deliveries, queues)...))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/mns/", keyring.Handler())
	dash, err := dashboard.New(dashboard.Deps{
		Accounts: accounts, Topics: topics, Messages: publisher, Backlog: deliveries, Stats: stats, Queues: queues,
		Clock: clk, Log: log,
	})
	if err != nil {
		return fail(err)
	}
	mux.Handle("/dashboard", dash)
	mnsAPI, err := newMNSAPI(cfg, mns.Deps{Accounts: accounts, Topics: topics, Messages: publisher, Queues: queues}, clk, log, reg)
	if err != nil {
		return fail(err)
	}

	httpSrv := newHTTPServer(cfg, withMNS(mnsAPI, mux), log)
	failed := make(chan error, 1)
	services := []lifecycle.Named{
		{Name: "accounts", Service: lifecycle.Funcs{StopFunc: func(context.Context) error { accounts.Close(); return nil }}},
		{Name: "queues", Service: queues},
		{Name: "topic index", Service: lifecycle.Funcs{StopFunc: func(context.Context) error { topics.Close(); return nil }}},
	}
	if cfg.Delivery {
		services = append(services, lifecycle.Named{Name: "delivery", Service: pushing{sender.Dispatcher, deliveries}})
	} else {
		log.Info("delivery off (--delivery=false): messages are stored for the processes that deliver")
	}
	services = append(services,
		lifecycle.Named{Name: "mns key rotation", Service: every(func(ctx context.Context) { rotateKeys(ctx, keyring, cfg.MNSKeyRotation, log) })},
		lifecycle.Named{Name: "mqtt", Service: broker},
		lifecycle.Named{Name: "http", Service: lifecycle.Funcs{
			StartFunc: func(context.Context) error {
				if lns.pprof != nil {
					go servePprof(lns.pprof, log)
				}
				go func() { failed <- fmt.Errorf("http server: %w", httpSrv.Serve(guardHTTP(lns.http, cfg, log))) }()
				log.Info("listening", "http", lns.http.Addr().String(), "engine_embedded", eng.Embedded())
				return nil
			},
			StopFunc: func(ctx context.Context) error {
				if err := httpSrv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
					return err
				}
				return nil
			},
		}},
	)
	return services, failed, nil
}

// pushing is the push dispatcher and the delivery service as one service:
// started dispatcher first; stopped together, the pushes in flight getting
// pushBudget before they are cut short and handed back to the engine.
type pushing struct {
	dispatcher *push.Dispatcher
	deliveries *delivery.Service
}

func (p pushing) Start(ctx context.Context) error {
	// The dispatcher's workers live until Stop, not until the start's ctx.
	if err := p.dispatcher.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	if err := p.deliveries.Start(ctx); err != nil {
		_ = p.dispatcher.Stop(ctx)
		return err
	}
	return nil
}

func (p pushing) Stop(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, pushBudget)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- p.deliveries.Stop(ctx) }()
	return errors.Join(p.dispatcher.Stop(pctx), <-stopped)
}

// every runs loop in a goroutine from Start until Stop.
func every(loop func(ctx context.Context)) lifecycle.Service {
	var cancel context.CancelFunc
	done := make(chan struct{})
	return lifecycle.Funcs{
		StartFunc: func(ctx context.Context) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			var lctx context.Context
			lctx, cancel = context.WithCancel(context.WithoutCancel(ctx))
			go func() { defer close(done); loop(lctx) }()
			return nil
		},
		StopFunc: func(ctx context.Context) error {
			cancel()
			select {
			case <-done:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
	}
}

// publicURL is where receivers reach this server: --public-url, or the HTTP
// listener's address.
func publicURL(cfg config.Config, addr net.Addr) string {
	if cfg.PublicURL != "" {
		return cfg.PublicURL
	}
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// rotateKeys replaces the MNS signing key once it is older than maxAge,
// checking hourly; every process may run it.
func rotateKeys(ctx context.Context, k *mnssign.Keyring, maxAge time.Duration, log *slog.Logger) {
	if maxAge <= 0 {
		return
	}
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if err := k.RotateIfOlder(ctx, maxAge); err != nil && ctx.Err() == nil {
			log.Warn("mns key rotation", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func replicas(cfg config.Config) int {
	if cfg.NatsURL == "" {
		return 1
	}
	return cfg.NatsReplicas
}

// queueSink hands topic messages to queues (protocol=queue subscriptions):
// a message a queue can never store is undeliverable, given up at once.
type queueSink struct{ queues *queue.Service }

func (s queueSink) Enqueue(ctx context.Context, appID int64, queueName string, body []byte, msgID string) error {
	err := s.queues.Enqueue(ctx, appID, queueName, body, msgID)
	if errors.Is(err, queue.ErrNotStorable) {
		return fmt.Errorf("%w: %w", delivery.ErrUndeliverable, err)
	}
	return err
}
