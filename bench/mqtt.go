package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/mqtt"
)

func init() {
	register("mqtt", "HTTP publish vs MQTT publish into one embedded broker, delivered msg/s; gateway req/s at 32 keep-alive clients", benchMQTT)
}

const (
	mqttBenchUser, mqttBenchPass = "bench", "bench"
	mqttPublishers               = 8     // concurrent publishers in the delivery comparison
	mqttMessages                 = 10000 // messages per delivery run
	gatewayClients               = 32
	gatewayRun                   = 3 * time.Second
	gatewayMaxRequests           = 300000
	mqttPhaseTimeout             = time.Minute
)

var mqttBenchPayload = []byte(`{"message":"Hello, world","seq":12345678}`)

func benchMQTT(ctx context.Context, out *report) error {
	// The broker keeps its durable state in an embedded engine, as herald
	// serve wires it (internal/server/mqtt.go), and the subscriber's session
	// is persistent, so that its QoS 1 inflight messages are stored there.
	eng, closeEng, err := tempEngine(ctx, "herald-bench-mqtt-")
	if err != nil {
		return err
	}
	defer closeEng()
	srv, err := mqtt.New(mqtt.Config{
		Addr:            "127.0.0.1:0",
		HTTPAddr:        "127.0.0.1:0",
		Users:           []mqtt.User{{Username: mqttBenchUser, Password: mqttBenchPass}},
		HTTPPublishRate: -1,
	}, slog.New(slog.DiscardHandler), clock.Real{}, mqtt.WithStore(eng.KV, eng.JS.Stream))
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Stop(stopCtx)
	}()

	// Delivery: the same publishers, the same QoS 1 acknowledgement (PUBACK
	// or 200, both "the broker has it") and the same subscriber; only the
	// way in differs. Interleaved twice, best of each, to damp noise.
	pubs := make([]*paho.Client, mqttPublishers)
	for i := range pubs {
		c, err := mqttBenchConnect(ctx, srv.MQTTAddr(), fmt.Sprintf("bench-pub-%d", i), nil)
		if err != nil {
			return err
		}
		defer mqttBenchDisconnect(c)
		pubs[i] = c
	}
	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: gatewayClients, MaxConnsPerHost: gatewayClients}}
	defer httpClient.CloseIdleConnections()
	viaMQTT := func(ctx context.Context, worker int, topic string) error {
		_, err := pubs[worker].Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: mqttBenchPayload})
		return err
	}
	viaHTTP := func(ctx context.Context, _ int, topic string) error {
		return gatewayPost(ctx, httpClient, "http://"+srv.HTTPAddr()+"/topics/"+topic+"?qos=1")
	}
	// CPU is this whole process's (getrusage): broker, engine, publishers
	// and subscriber alike, per delivered message.
	var bestMQTT, bestHTTP, cpuMQTT, cpuHTTP float64
	for round := range 2 {
		c0 := cpuSeconds()
		r, err := deliveryRate(ctx, srv.MQTTAddr(), fmt.Sprintf("bench/mqtt/%d", round), viaMQTT)
		if err != nil {
			return fmt.Errorf("mqtt publish: %w", err)
		}
		if r > bestMQTT {
			bestMQTT, cpuMQTT = r, (cpuSeconds()-c0)*1e6/mqttMessages
		}
		c0 = cpuSeconds()
		r, err = deliveryRate(ctx, srv.MQTTAddr(), fmt.Sprintf("bench/http/%d", round), viaHTTP)
		if err != nil {
			return fmt.Errorf("http publish: %w", err)
		}
		if r > bestHTTP {
			bestHTTP, cpuHTTP = r, (cpuSeconds()-c0)*1e6/mqttMessages
		}
	}
	out.Figure(fmt.Sprintf("MQTT publish -> MQTT subscriber (persistent session, durable store), %d publishers, QoS 1", mqttPublishers), bestMQTT, "msg/s")
	out.Figure("  process CPU per message (broker + engine + clients)", cpuMQTT, "µs")
	out.Figure(fmt.Sprintf("HTTP publish -> MQTT subscriber, %d keep-alive clients, QoS 1", mqttPublishers), bestHTTP, "msg/s")
	out.Figure("  process CPU per message (gateway + broker + engine + clients)", cpuHTTP, "µs")
	out.Ratio("HTTP publish vs MQTT publish, delivered msg/s", bestHTTP, bestMQTT, 0.5)

	// Gateway throughput: 32 keep-alive clients, to a topic nobody
	// subscribes to, against a bare net/http handler on the same loopback.
	c0 := cpuSeconds()
	gw, err := requestRate(ctx, httpClient, "http://"+srv.HTTPAddr()+"/topics/bench%2Fnobody?qos=1")
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	gwCPU := (cpuSeconds() - c0) * 1e6 / (gw * gatewayRun.Seconds())
	bare, err := bareHTTPRate(ctx)
	if err != nil {
		return fmt.Errorf("bare http: %w", err)
	}
	out.Figure(fmt.Sprintf("gateway requests, %d keep-alive clients", gatewayClients), gw, "req/s")
	out.Figure("  process CPU per request (gateway + broker + clients), about", gwCPU, "µs")
	out.Figure(fmt.Sprintf("bare net/http handler, %d keep-alive clients", gatewayClients), bare, "req/s")
	out.Ratio("gateway vs bare net/http handler, req/s", gw, bare, 0.5)
	return benchMQTTCluster(ctx, out)
}

// benchMQTTCluster compares, on two brokers of one cluster (two herald
// processes on one engine, here in one process on one embedded engine, with
// the durable store on), gateway publishes delivered to a subscriber of the
// other broker with those delivered to a subscriber of the same broker.
// Both pay the write to the cluster's stream before the 200; the other
// broker's subscriber also waits for its broker to read the stream.
func benchMQTTCluster(ctx context.Context, out *report) error {
	eng, closeEngine, err := tempEngine(ctx, "herald-bench-mqtt-cluster")
	if err != nil {
		return err
	}
	defer closeEngine()
	brokers := make([]*mqtt.Server, 2)
	for i := range brokers {
		srv, err := mqtt.New(mqtt.Config{
			Addr:            "127.0.0.1:0",
			HTTPAddr:        "127.0.0.1:0",
			Users:           []mqtt.User{{Username: mqttBenchUser, Password: mqttBenchPass}},
			HTTPPublishRate: -1,
		}, slog.New(slog.DiscardHandler), clock.Real{},
			mqtt.WithStore(eng.KV, eng.JS.Stream),
			mqtt.WithCluster(mqtt.Cluster{Conn: eng.NC, JS: eng.JS, Stream: eng.Stream}))
		if err != nil {
			return err
		}
		if err := srv.Start(ctx); err != nil {
			return err
		}
		defer func() {
			stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = srv.Stop(stopCtx)
		}()
		brokers[i] = srv
	}
	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: gatewayClients, MaxConnsPerHost: gatewayClients}}
	defer httpClient.CloseIdleConnections()
	viaGateway := func(ctx context.Context, _ int, topic string) error {
		return gatewayPost(ctx, httpClient, "http://"+brokers[0].HTTPAddr()+"/topics/"+topic+"?qos=1")
	}
	var bestSame, bestOther float64
	for round := range 2 {
		r, err := deliveryRate(ctx, brokers[0].MQTTAddr(), fmt.Sprintf("bench/same/%d", round), viaGateway)
		if err != nil {
			return fmt.Errorf("cluster, same broker: %w", err)
		}
		bestSame = max(bestSame, r)
		r, err = deliveryRate(ctx, brokers[1].MQTTAddr(), fmt.Sprintf("bench/other/%d", round), viaGateway)
		if err != nil {
			return fmt.Errorf("cluster, other broker: %w", err)
		}
		bestOther = max(bestOther, r)
	}
	out.Figure(fmt.Sprintf("cluster: HTTP publish -> MQTT subscriber of the same broker, %d clients, QoS 1, durable", mqttPublishers), bestSame, "msg/s")
	out.Figure(fmt.Sprintf("cluster: HTTP publish -> MQTT subscriber of the other broker, %d clients, QoS 1, durable", mqttPublishers), bestOther, "msg/s")
	out.Ratio("cluster: subscriber on another broker vs the same broker, delivered msg/s", bestOther, bestSame, 0.7)
	return nil
}

// deliveryRate publishes mqttMessages to topic from mqttPublishers workers
// and returns the messages per second a QoS 1 subscriber received, from the
// first publish to the last delivery.
func deliveryRate(ctx context.Context, addr, topic string, publish func(ctx context.Context, worker int, topic string) error) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, mqttPhaseTimeout)
	defer cancel()
	var got atomic.Int64
	all := make(chan struct{})
	sub, err := mqttBenchConnect(ctx, addr, "bench-sub-"+topic, func(paho.PublishReceived) (bool, error) {
		if got.Add(1) == mqttMessages {
			close(all)
		}
		return true, nil
	})
	if err != nil {
		return 0, err
	}
	defer mqttBenchDisconnect(sub)
	if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: topic, QoS: 1}}}); err != nil {
		return 0, err
	}

	start := time.Now()
	errs := make(chan error, mqttPublishers)
	var wg sync.WaitGroup
	for w := range mqttPublishers {
		wg.Go(func() {
			for range mqttMessages / mqttPublishers {
				if err := publish(ctx, w, topic); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	select {
	case <-all:
	case <-ctx.Done():
		return 0, fmt.Errorf("subscriber got %d of %d messages: %w", got.Load(), mqttMessages, ctx.Err())
	}
	return mqttMessages / time.Since(start).Seconds(), nil
}

// requestRate runs gatewayClients workers posting to url for gatewayRun (or
// gatewayMaxRequests requests) and returns requests per second.
func requestRate(ctx context.Context, client *http.Client, url string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, gatewayRun)
	defer cancel()
	var done atomic.Int64
	var failed atomic.Pointer[error]
	start := time.Now()
	var wg sync.WaitGroup
	for range gatewayClients {
		wg.Go(func() {
			for ctx.Err() == nil && done.Load() < gatewayMaxRequests {
				if err := gatewayPost(ctx, client, url); err != nil {
					if ctx.Err() == nil {
						failed.CompareAndSwap(nil, &err)
					}
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		return 0, *err
	}
	return float64(done.Load()) / time.Since(start).Seconds(), nil
}

func bareHTTPRate(ctx context.Context) (float64, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("X-Message-Id", "A9FE1FEF7EE614DAD5DC8EA6C1A60000")
			w.WriteHeader(http.StatusOK)
		}),
	}
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Close() }()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: gatewayClients, MaxConnsPerHost: gatewayClients}}
	defer client.CloseIdleConnections()
	return requestRate(ctx, client, "http://"+ln.Addr().String()+"/topics/bench%2Fnobody?qos=1")
}

func gatewayPost(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(mqttBenchPayload))
	if err != nil {
		return err
	}
	req.SetBasicAuth(mqttBenchUser, mqttBenchPass)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	return nil
}

func mqttBenchConnect(ctx context.Context, addr, clientID string, onMessage func(paho.PublishReceived) (bool, error)) (*paho.Client, error) {
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	cfg := paho.ClientConfig{Conn: conn}
	if onMessage != nil {
		cfg.OnPublishReceived = []func(paho.PublishReceived) (bool, error){onMessage}
	}
	c := paho.NewClient(cfg)
	connect := &paho.Connect{
		ClientID: clientID, CleanStart: true, KeepAlive: 30,
		Username: mqttBenchUser, UsernameFlag: true, Password: []byte(mqttBenchPass), PasswordFlag: true,
	}
	if onMessage != nil { // a subscriber: a persistent session, kept in the store
		expiry := uint32(3600)
		connect.Properties = &paho.ConnectProperties{SessionExpiryInterval: &expiry}
	}
	_, err = c.Connect(ctx, connect)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("connect %s: %w", clientID, err), conn.Close())
	}
	return c, nil
}

func mqttBenchDisconnect(c *paho.Client) {
	_ = c.Disconnect(&paho.Disconnect{})
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
	}
}
