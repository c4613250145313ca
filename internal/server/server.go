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
	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/config"
	"github.com/herald-mq/herald/internal/dashboard"
	"github.com/herald-mq/herald/internal/delivery"
	"github.com/herald-mq/herald/internal/engine"
	"github.com/herald-mq/herald/internal/nonce"
	"github.com/herald-mq/herald/internal/push"
	"github.com/herald-mq/herald/internal/push/mnssign"
	"github.com/herald-mq/herald/internal/push/retry"
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

// Run serves until ctx ends, then stops gracefully.
func Run(ctx context.Context, cfg config.Config, stdout io.Writer, log *slog.Logger) error {
	clk := clock.Real{}
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

	accountsKV, err := eng.KV(ctx, account.Bucket, 1)
	if err != nil {
		return err
	}
	accounts := account.Open(accountsKV, log)
	acct, created, err := accounts.Bootstrap(ctx, cfg.AppID, cfg.SecretID, cfg.SecretKey, clk.Now())
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(stdout, "herald: generated API credentials (shown once): APPID=%d SecretId=%s SecretKey=%s\n",
			acct.AppID, acct.SecretID, acct.SecretKey)
	}

	topics, publisher, err := topic.Open(ctx, eng, clk, log)
	if err != nil {
		return err
	}
	defer topics.Close()

	statsKV, err := eng.Bucket(ctx, delivery.StatsBucket, 1)
	if err != nil {
		return err
	}
	stats := delivery.NewStats(statsKV, log)

	httpLn := lns.http
	keysKV, err := eng.Bucket(ctx, "herald_signing_keys", 1)
	if err != nil {
		return err
	}
	keyring, err := mnssign.Open(ctx, mnssign.Config{
		Store:   kvKeyStore{kv: keysKV, key: "mns"},
		BaseURL: publicURL(cfg, httpLn.Addr()),
		Clock:   clk,
		Logger:  log,
	})
	if err != nil {
		return err
	}
	pusher, err := push.New(push.Config{
		Timeout: cfg.PushTimeout, AllowPrivate: cfg.AllowPrivateEndpoints,
		Signer: keyring, Clock: clk,
	})
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), buildInfo())
	sender, err := delivery.NewPushSender(pusher, push.DispatcherConfig{})
	if err != nil {
		return err
	}
	queues, err := queue.New(ctx, queue.Config{}, queue.Deps{
		Engine: eng.WorkQueues(), KV: eng.Bucket, Clock: clk, Log: log,
	})
	if err != nil {
		return err
	}

	policies := retry.Config{Scale: cfg.RetryIntervalScale}
	deliveries, err := delivery.New(ctx, delivery.Config{
		AckWait: cfg.DeliveryAckWait,
		Policy: func(strategy string) delivery.RetryPolicy {
			p, err := retry.New(strategy, policies)
			if err != nil { // a stored strategy the API never accepts
				p, _ = retry.New(retry.ExponentialDecay, policies)
			}
			return p
		},
	}, delivery.Deps{
		JS: eng.JS, Stream: eng.Stream, Subs: topics, Sender: newMeteredSender(reg, sender), Queues: queues,
		Record: stats, Clock: clk, Log: log,
	})
	if err != nil {
		return err
	}

	// Nonces are recorded in the engine, so that a replay is refused by
	// another process of a cluster and after a restart alike.
	nonces, err := nonce.Open(ctx, eng.ExpiringBucket, 2*cfg.SignatureWindow)
	if err != nil {
		return err
	}
	api, err := cmq.New(cmq.Config{
		SignatureWindow:          cfg.SignatureWindow,
		MaxSubscriptionsPerTopic: cfg.MaxSubscriptionsPerTopic,
		AllowPrivateEndpoints:    cfg.AllowPrivateEndpoints,
		EngineRetryTimeout:       cfg.EngineRetryTimeout,
	}, cmq.Deps{Accounts: accounts, Topics: topics, Messages: publisher, Stats: stats, Backlog: deliveries, Nonces: nonces, Queues: queues, Engine: eng, Clock: clk, Log: log})
	if err != nil {
		return err
	}

	if !eng.Embedded() && (cfg.MQTTAddr != "" || cfg.MQTTHTTPAddr != "" || cfg.MQTTTLSAddr != "") {
		log.Warn("the MQTT broker is not clustered: subscribers get only what is published through this process; " +
			"run MQTT on one process of the cluster and turn its listeners off on the others")
	}
	broker, err := newMQTT(cfg, clk, log, eng.KV, eng.JS.Stream, lns.mqtt)
	if err != nil {
		return err
	}
	reg.MustRegister(broker.Collectors()...)
	reg.MustRegister(newStateCollector(queues, eng))

	mux := http.NewServeMux()
	apiHandler := instrument(reg, api)
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
		return err
	}
	mux.Handle("/dashboard", dash)

	if err := queues.Start(ctx); err != nil {
		return err
	}
	if cfg.Delivery {
		if err := sender.Dispatcher.Start(context.WithoutCancel(ctx)); err != nil {
			return err
		}
		if err := deliveries.Start(ctx); err != nil {
			return err
		}
	} else {
		log.Info("delivery off (--delivery=false): messages are stored for the processes that deliver")
	}
	go rotateKeys(ctx, keyring, cfg.MNSKeyRotation, log)
	if err := broker.Start(ctx); err != nil {
		return err
	}

	httpSrv := newHTTPServer(cfg, mux, log)
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(guardHTTP(httpLn, cfg, log)) }()
	log.Info("listening", "http", httpLn.Addr().String(), "engine_embedded", eng.Embedded())
	fmt.Fprintln(stdout, ReadyLine)

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return fmt.Errorf("http server: %w", err)
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownBudget)
	defer cancel()
	if err := httpSrv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http shutdown", "err", err)
	}
	if err := broker.Stop(sctx); err != nil {
		log.Warn("mqtt stop", "err", err)
	}
	// Stop taking messages, let the attempts in flight finish (or hand them
	// back to the engine), then close the engine.
	pctx, cancelPush := context.WithTimeout(sctx, pushBudget)
	defer cancelPush()
	stopped := make(chan error, 1)
	go func() { stopped <- deliveries.Stop(sctx) }()
	if err := sender.Dispatcher.Stop(pctx); err != nil {
		log.Warn("push dispatcher stop", "err", err)
	}
	if err := <-stopped; err != nil {
		log.Warn("delivery stop", "err", err)
	}
	if err := queues.Stop(sctx); err != nil {
		log.Warn("queue stop", "err", err)
	}
	return nil
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
