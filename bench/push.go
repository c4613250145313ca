package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/herald-mq/herald/client"
	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/config"
	"github.com/herald-mq/herald/internal/engine"
	"github.com/herald-mq/herald/internal/push"
	"github.com/herald-mq/herald/internal/push/mnssign"
	"github.com/herald-mq/herald/internal/server"
	"github.com/herald-mq/herald/internal/topic"
)

// The push scenario runs a whole herald in this process (server.Run, one per
// step, on a temporary data dir) and local receivers that answer 200 at once.
// Every figure is a ratio against a baseline measured in the same step on the
// same receivers: a plain Go HTTP client for deliveries, raw JetStream for
// publishing.

func init() {
	register("push", "HTTP push: throughput, fan-out, latency, publish, a hanging endpoint, MNS signing", runPush)
}

var (
	pushSteps = flag.String("push-steps", "",
		"comma-separated push steps to run (throughput,fanout,latency,publish,isolation,sign); default all")
	pushProfileDir = flag.String("push-profile", "",
		"write a CPU profile of herald's measured phase of each push step into this directory")
)

// Sizes: enough work for a stable rate, little enough that the whole scenario
// stays well under three minutes on two cores.
const (
	pushSecretID    = "AKIDheraldPushBench"
	pushSecretKey   = "heraldPushBenchSecret"
	pushAppID       = 1000000
	pushBodySize    = 256
	pushBatch       = 16 // BatchPublishMessage's maximum
	pushPublishers  = 4  // publishing goroutines feeding the delivery steps
	pushWarmup      = 500
	pushWaitLimit   = 90 * time.Second // the longest any phase may take
	pushShutdownMax = 20 * time.Second

	pushThroughputMsgs = 30000

	pushFanoutSubs = 100
	pushFanoutMsgs = 400

	pushLatencyRate = 2000
	pushLatencyWarm = time.Second
	pushLatencyRun  = 5 * time.Second

	pushPublishBatches = 3000
	pushPublishWorkers = 8

	pushIsolationEndpoints = 10
	pushIsolationMsgs      = 5000

	pushSignMsgs  = 5000
	pushSignLoops = 300
)

// pushPerEndpoint is herald's push concurrency per endpoint, which the plain
// client baselines use too.
var pushPerEndpoint = push.DispatcherConfig{}.WithDefaults().PerEndpoint

type pushStep struct {
	name string
	run  func(ctx context.Context, out *report) error
}

func runPush(ctx context.Context, out *report) error {
	steps := []pushStep{
		{"throughput", pushThroughput},
		{"fanout", pushFanout},
		{"latency", pushLatency},
		{"publish", pushPublish},
		{"isolation", pushIsolation},
		{"sign", pushSign},
	}
	if *pushSteps != "" {
		want := strings.Split(*pushSteps, ",")
		steps = slices.DeleteFunc(steps, func(s pushStep) bool { return !slices.Contains(want, s.name) })
		if len(steps) == 0 {
			return fmt.Errorf("-push-steps %q names no step", *pushSteps)
		}
	}
	var errs []error
	for _, s := range steps {
		if err := s.run(ctx, out); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.name, err))
			if ctx.Err() != nil {
				break
			}
		}
	}
	return errors.Join(errs...)
}

// 1. One topic, one subscription, one receiver: herald's push rate against a
// plain client posting the same body at the same concurrency. Measured twice:
// pushing messages herald already holds (the stored backlog a restarted
// herald finds), which is the push path alone, and pushing while the same
// messages are being published through the API on the same two cores.
func pushThroughput(ctx context.Context, out *report) error {
	rcv, err := newPushReceiver(nil)
	if err != nil {
		return err
	}
	defer rcv.close()
	h, err := pushStartHerald(ctx, "")
	if err != nil {
		return err
	}
	defer func() { h.stop() }()
	if err := h.topic(ctx, "throughput", client.FormatJSON, rcv); err != nil {
		return err
	}
	body := pushBody(pushBodySize)
	// Warm up connections and consumers, and capture the push the baseline replays.
	if _, err := h.deliver(ctx, "throughput", pushWarmup, body, rcv); err != nil {
		return err
	}
	plain := func() (float64, error) { return pushPlain(ctx, pushThroughputMsgs, rcv) }
	pm, pb, err := pushBracket(ctx, "throughput-publishing",
		func() (float64, error) { return h.deliver(ctx, "throughput", pushThroughputMsgs, body, rcv) }, plain)
	if err != nil {
		return err
	}

	h.halt()
	if err := pushFill(ctx, h.dir, "throughput", pushThroughputMsgs, body); err != nil {
		return err
	}
	hm, bm, err := pushBracket(ctx, "throughput", func() (float64, error) {
		tally := rcv.arm(pushThroughputMsgs)
		defer rcv.disarm()
		restarted, err := pushStartHerald(ctx, h.dir)
		if err != nil {
			return 0, err
		}
		h = restarted
		if err := tally.wait(ctx, "throughput backlog"); err != nil {
			return 0, err
		}
		return tally.rate(), nil
	}, plain)
	if err != nil {
		return err
	}
	out.Ratio(fmt.Sprintf("1x1 push %dk x %dB stored deliveries/s vs plain client c=%d", pushThroughputMsgs/1000, pushBodySize, pushPerEndpoint),
		hm.rate, bm.rate, 0.8)
	out.Figure("  CPU per delivery, herald (start+consume+push+receive)", hm.cpuPer(pushThroughputMsgs), "µs")
	out.Figure("  CPU per delivery, plain client (post+receive)", bm.cpuPer(pushThroughputMsgs), "µs")
	out.Ratio("1x1 push while publishing them through the API, same cores", pm.rate, pb.rate, 0)
	out.Figure("  CPU per delivery, herald (API+store+consume+push+receive)", pm.cpuPer(pushThroughputMsgs), "µs")
	return nil
}

// pushFill stores msgs copies of body on a stopped herald's topic with
// herald's own publisher, straight into the engine in its data dir, in
// batches of 16 from several goroutines.
func pushFill(ctx context.Context, dir, topicName string, msgs int, body string) error {
	log := slog.New(slog.DiscardHandler)
	eng, err := engine.Open(ctx, engine.Config{DataDir: dir}, log)
	if err != nil {
		return err
	}
	defer func() { _ = eng.Close() }()
	store, pub, err := topic.Open(ctx, eng, clock.Real{}, log)
	if err != nil {
		return err
	}
	defer store.Close()
	t, err := store.Topic(ctx, pushAppID, topicName)
	if err != nil {
		return err
	}
	batch := slices.Repeat([]topic.Message{{Body: []byte(body)}}, pushBatch)
	_, err = pushRate(ctx, msgs/pushBatch, func(ctx context.Context) error {
		_, err := pub.Publish(ctx, t, batch)
		return err
	})
	return err
}

// 2. One topic, 100 subscriptions on 100 receivers (100 endpoints to herald):
// deliveries/s against the plain client making the same deliveries with 16
// connections per receiver.
func pushFanout(ctx context.Context, out *report) error {
	rcvs := make([]*pushReceiver, pushFanoutSubs)
	for i := range rcvs {
		var err error
		if rcvs[i], err = newPushReceiver(nil); err != nil {
			return err
		}
		defer rcvs[i].close()
	}
	h, err := pushStartHerald(ctx, "")
	if err != nil {
		return err
	}
	defer h.stop()
	if err := h.topic(ctx, "fanout", client.FormatJSON, rcvs...); err != nil {
		return err
	}
	body := pushBody(pushBodySize)
	if _, err := h.deliver(ctx, "fanout", 20, body, rcvs...); err != nil {
		return err
	}
	hm, bm, err := pushBracket(ctx, "fanout",
		func() (float64, error) { return h.deliver(ctx, "fanout", pushFanoutMsgs, body, rcvs...) },
		func() (float64, error) { return pushPlain(ctx, pushFanoutMsgs, rcvs...) })
	if err != nil {
		return err
	}
	out.Ratio(fmt.Sprintf("1x%d fan-out %d msgs deliveries/s vs plain client c=%dx%d", pushFanoutSubs, pushFanoutMsgs, pushPerEndpoint, pushFanoutSubs),
		hm.rate, bm.rate, 0.7)
	n := pushFanoutMsgs * pushFanoutSubs
	out.Figure("  CPU per delivery, herald", hm.cpuPer(n), "µs")
	out.Figure("  CPU per delivery, plain client", bm.cpuPer(n), "µs")
	return nil
}

// 3. Publish→delivery latency at a steady rate: PublishMessage one at a time
// on a fixed schedule (open loop), each message's due time stamped in its
// body and compared with its arrival time at the receiver.
func pushLatency(ctx context.Context, out *report) error {
	warm := int(pushLatencyRate * pushLatencyWarm / time.Second)
	total := warm + int(pushLatencyRate*pushLatencyRun/time.Second)
	lat := make([]atomic.Int64, total)
	answered := make([]int64, total) // due → publish answered, ns
	rcv, err := newPushReceiver(nil)
	if err != nil {
		return err
	}
	defer rcv.close()
	rcv.onBody = func(body []byte, at time.Time) {
		seq, sent, ok := pushParseStamp(body)
		if ok && seq < len(lat) {
			lat[seq].Store(at.UnixNano() - sent)
		}
	}
	h, err := pushStartHerald(ctx, "")
	if err != nil {
		return err
	}
	defer h.stop()
	if err := h.topic(ctx, "latency", client.FormatJSON, rcv); err != nil {
		return err
	}
	tally := rcv.arm(total)
	defer rcv.disarm()
	stop := pushProfile("latency")
	// Open loop: message seq is due at start+seq×interval and is sent then
	// from a goroutine of its own, whether or not earlier ones have been
	// answered, and its latency counts from that due time. A stall of the
	// server therefore delays every message due meanwhile, as it would a
	// real publisher's, instead of pausing the publisher (coordinated
	// omission).
	interval := time.Second / pushLatencyRate
	start := time.Now().Add(10 * time.Millisecond)
	var sent, retried atomic.Int64
	cpu0 := pushCPUTime()
	perr := pushWorkers(ctx, 1, func(ctx context.Context, _ int) error {
		errs := make(chan error, 1)
		var wg sync.WaitGroup
		defer wg.Wait()
		for seq := range total {
			due := start.Add(time.Duration(seq) * interval)
			if d := time.Until(due); d > 0 {
				time.Sleep(d) // pacing, not waiting for something
			}
			select {
			case err := <-errs:
				return err
			default:
			}
			wg.Go(func() {
				var err error
				for range 10 { // a publisher retries what the server says to retry (6000) and timeouts
					_, err = h.cli.PublishMessage(ctx, client.PublishMessageRequest{
						TopicName: "latency", MsgBody: pushStamp(seq, due),
					})
					var ce *client.Error
					var te *client.TransportError
					if !errors.As(err, &ce) && !errors.As(err, &te) || ce != nil && ce.Code != 6000 {
						break
					}
					retried.Add(1)
				}
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
				answered[seq] = time.Since(due).Nanoseconds()
				for now := time.Now().UnixNano(); ; {
					last := sent.Load()
					if now <= last || sent.CompareAndSwap(last, now) {
						break
					}
				}
			})
		}
		wg.Wait()
		select {
		case err := <-errs:
			return err
		default:
			return nil
		}
	})
	publishSpan := time.Duration(sent.Load() - start.UnixNano())
	werr := tally.wait(ctx, "latency")
	cpu := pushCPUTime() - cpu0
	stop()
	if err := errors.Join(perr, werr); err != nil {
		return err
	}
	var ms []float64
	for i := warm; i < total; i++ {
		ms = append(ms, float64(lat[i].Load())/1e6)
	}
	slices.Sort(ms)
	pct := func(p float64) float64 { return ms[min(len(ms)-1, int(float64(len(ms))*p))] }
	out.Figure("publish rate achieved (target 2000/s)", float64(total)/publishSpan.Seconds(), "msgs/s")
	out.Figure(fmt.Sprintf("publish->push latency p50 at %d msgs/s (%d msgs, open loop: from each due time)", pushLatencyRate, len(ms)), pct(0.50), "ms")
	verdict := "meets"
	if pct(0.99) >= 10 {
		verdict = "BELOW"
	}
	out.Figure(fmt.Sprintf("publish->push latency p99 at %d msgs/s", pushLatencyRate), pct(0.99), "ms (target < 10: "+verdict+")")
	out.Figure(fmt.Sprintf("publish->push latency p999 at %d msgs/s", pushLatencyRate), pct(0.999), "ms")
	out.Figure("  CPU per message, this process (herald + publisher + receiver)", float64(cpu.Microseconds())/float64(total), "µs")
	var pub []float64
	for i := warm; i < total; i++ {
		pub = append(pub, float64(answered[i])/1e6)
	}
	slices.Sort(pub)
	out.Figure("  of which publish answered (due → API answer) p50", pub[len(pub)/2], "ms")
	out.Figure("  of which publish answered p99", pub[len(pub)*99/100], "ms")
	out.Figure("  publishes retried (6000 engine unavailable, or timed out)", float64(retried.Load()), "")
	fmt.Fprintf(os.Stderr, "bench push latency: %s\n", pushCounters(ctx, h.addr))
	return nil
}

// 4. Publishing through the API (BatchPublishMessage of 16 × 256 B) against
// raw JetStream async publishing of the same batches into a stream of an
// embedded engine in this process, at the same concurrency. Measured on an
// API-only herald (--delivery=false: it stores, other processes push), which
// does what the baseline does, and on an all-in-one herald that also pushes
// every message to a local receiver on the same two cores as it goes.
func pushPublish(ctx context.Context, out *report) error {
	eng, closeEng, err := tempEngine(ctx, "herald-bench-js")
	if err != nil {
		return err
	}
	defer closeEng()
	if _, err := eng.Stream(ctx, jetstream.StreamConfig{Name: "PUSHBENCH", Subjects: []string{"pushbench.>"}}); err != nil {
		return err
	}
	body := pushBody(pushBodySize)
	rawBatches := func(n int) (float64, error) {
		data := []byte(body)
		return pushRate(ctx, n, func(ctx context.Context) error {
			acks := make([]jetstream.PubAckFuture, pushBatch)
			for i := range acks {
				f, err := eng.JS.PublishAsync("pushbench.publish", data)
				if err != nil {
					return err
				}
				acks[i] = f
			}
			for _, f := range acks {
				select {
				case <-f.Ok():
				case err := <-f.Err():
					return err
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		})
	}
	if _, err := rawBatches(pushWarmup / pushBatch); err != nil {
		return err
	}
	modes := []struct {
		name, step string
		args       []string
		target     float64
	}{
		{fmt.Sprintf("BatchPublishMessage 16x%dB msgs/s, API-only node, vs JetStream PublishAsync", pushBodySize), "publish", []string{"--delivery=false"}, 0.5},
		{"  the same on an all-in-one node, pushing as it goes", "publish-delivering", nil, 0},
	}
	for _, m := range modes {
		if err := pushPublishOn(ctx, out, m.step, m.name, m.target, m.args, body, rawBatches); err != nil {
			return err
		}
	}
	return nil
}

// pushPublishOn measures one herald set up with args against rawBatches.
func pushPublishOn(ctx context.Context, out *report, step, name string, target float64, args []string, body string,
	rawBatches func(n int) (float64, error),
) error {
	rcv, err := newPushReceiver(nil)
	if err != nil {
		return err
	}
	defer rcv.close()
	h, err := pushStartHerald(ctx, "", args...)
	if err != nil {
		return err
	}
	defer h.stop()
	if err := h.topic(ctx, "publish", client.FormatJSON, rcv); err != nil {
		return err
	}
	bodies := slices.Repeat([]string{body}, pushBatch)
	var deliveredDuring int64
	heraldBatches := func(n int) (float64, error) {
		before := rcv.hits.Load()
		defer func() { deliveredDuring = rcv.hits.Load() - before }()
		return pushRate(ctx, n, func(ctx context.Context) error {
			_, err := h.cli.BatchPublishMessage(ctx, client.BatchPublishMessageRequest{TopicName: "publish", MsgBodies: bodies})
			return err
		})
	}
	if _, err := heraldBatches(pushWarmup / pushBatch); err != nil {
		return err
	}
	hm, rm, err := pushBracket(ctx, step,
		func() (float64, error) { return heraldBatches(pushPublishBatches) },
		func() (float64, error) { return rawBatches(pushPublishBatches) })
	if err != nil {
		return err
	}
	out.Ratio(name, hm.rate, rm.rate, target)
	n := pushPublishBatches * pushBatch
	out.Figure("  CPU per message, herald", hm.cpuPer(n), "µs")
	out.Figure("  CPU per message, raw JetStream", rm.cpuPer(n), "µs")
	out.Figure("  herald's deliveries during its publish phase", 100*float64(deliveredDuring)/float64(n), "% of msgs")
	return nil
}

// 5. Ten endpoints, one of which accepts and never answers: deliveries/s to
// the nine healthy ones against the same nine when all ten are healthy.
func pushIsolation(ctx context.Context, out *report) error {
	healthy := make([]*pushReceiver, pushIsolationEndpoints-1)
	for i := range healthy {
		var err error
		if healthy[i], err = newPushReceiver(nil); err != nil {
			return err
		}
		defer healthy[i].close()
	}
	tenth, err := newPushReceiver(nil)
	if err != nil {
		return err
	}
	defer tenth.close()
	hang := make(chan struct{})
	hanging, err := newPushReceiver(hang)
	if err != nil {
		return err
	}
	defer hanging.close()
	h, err := pushStartHerald(ctx, "")
	if err != nil {
		return err
	}
	defer h.stop()
	// The held requests are let go before herald stops (deferred calls run
	// last in, first out), so that it stops without waiting for them.
	defer close(hang)
	if err := h.topic(ctx, "healthy", client.FormatJSON, append(slices.Clone(healthy), tenth)...); err != nil {
		return err
	}
	if err := h.topic(ctx, "onehangs", client.FormatJSON, append(slices.Clone(healthy), hanging)...); err != nil {
		return err
	}
	body := pushBody(pushBodySize)
	if _, err := h.deliver(ctx, "healthy", pushWarmup/10, body, healthy...); err != nil {
		return err
	}
	stop := pushProfile("isolation-healthy")
	allHealthy, err := pushMeasured(func() (float64, error) { return h.deliver(ctx, "healthy", pushIsolationMsgs, body, healthy...) })
	stop()
	if err != nil {
		return err
	}
	stop = pushProfile("isolation-onehangs")
	oneHangs, err := pushMeasured(func() (float64, error) { return h.deliver(ctx, "onehangs", pushIsolationMsgs, body, healthy...) })
	stop()
	if err != nil {
		return err
	}
	n := pushIsolationMsgs * len(healthy)
	out.Ratio("9 healthy of 10, one hanging: deliveries/s vs all 10 healthy", oneHangs.rate, allHealthy.rate, 0.9)
	out.Figure("  CPU per healthy delivery, this process (herald + publisher + receivers): one hanging", oneHangs.cpuPer(n), "µs")
	out.Figure("  the same, all 10 healthy", allHealthy.cpuPer(n), "µs")
	out.Figure("requests held by the hanging endpoint", float64(hanging.held.Load()), "requests")
	return nil
}

// 6. MNS XML pushes signed with RSA-2048 SHA1withRSA against CMQ JSON pushes,
// both one subscription on one receiver, and the cost of one signature.
func pushSign(ctx context.Context, out *report) error {
	signed, err := newPushReceiver(nil)
	if err != nil {
		return err
	}
	defer signed.close()
	unsigned, err := newPushReceiver(nil)
	if err != nil {
		return err
	}
	defer unsigned.close()
	h, err := pushStartHerald(ctx, "")
	if err != nil {
		return err
	}
	defer h.stop()
	if err := h.topic(ctx, "signed", "XML", signed); err != nil {
		return err
	}
	if err := h.topic(ctx, "unsigned", client.FormatJSON, unsigned); err != nil {
		return err
	}
	body := pushBody(pushBodySize)
	if _, err := h.deliver(ctx, "signed", pushWarmup, body, signed); err != nil {
		return err
	}
	if s := signed.sample.Load(); s == nil || s.header.Get("Authorization") == "" {
		return errors.New("the XML subscription's pushes are not signed")
	}
	if _, err := h.deliver(ctx, "unsigned", pushWarmup, body, unsigned); err != nil {
		return err
	}
	sm, um, err := pushBracket(ctx, "sign",
		func() (float64, error) { return h.deliver(ctx, "signed", pushSignMsgs, body, signed) },
		func() (float64, error) { return h.deliver(ctx, "unsigned", pushSignMsgs, body, unsigned) })
	if err != nil {
		return err
	}
	out.Figure("MNS XML signed pushes/s (1 sub)", sm.rate, "pushes/s")
	out.Figure("CMQ JSON unsigned pushes/s (1 sub)", um.rate, "pushes/s")
	out.Figure("signed / unsigned push throughput", sm.rate/um.rate, "x")
	out.Figure("  CPU per push, signed", sm.cpuPer(pushSignMsgs), "µs")
	out.Figure("  CPU per push, unsigned", um.cpuPer(pushSignMsgs), "µs")

	keys, err := mnssign.Open(ctx, mnssign.Config{Store: &mnssign.MemStore{}, BaseURL: "http://127.0.0.1", Logger: pushLogger()})
	if err != nil {
		return err
	}
	key := keys.SigningKey()
	sts := []byte("POST\nC72B9698FA1927E1DD12D3CF26ED84B2\ntext/xml;charset=utf-8\nWed, 29 Mar 2023 08:41:27 GMT\n" +
		"x-mns-publish-time:1680079287000\nx-mns-request-id:6423F9B7BF94313030AF5EA0\n" +
		"x-mns-signing-cert-url:aHR0cDovLzEyNy4wLjAuMTo4MDgwL21ucy9jZXJ0cy8wMTIzNDU2Nzg5YWJjZGVmLnBlbQ==\n" +
		"x-mns-subscriber:1000000\nx-mns-subscription-name:s0\nx-mns-topic-name:signed\nx-mns-topic-owner:1000000\n" +
		"x-mns-version:2015-06-06\n/push")
	begin := time.Now()
	for range pushSignLoops {
		if _, err := key.Sign(sts); err != nil {
			return err
		}
	}
	perSign := time.Since(begin) / pushSignLoops
	out.Figure("RSA-2048 SHA1withRSA signature, one core", float64(perSign.Microseconds()), "µs/push")
	out.Figure(fmt.Sprintf("signing ceiling on %d cores (cores / signature time)", runtime.GOMAXPROCS(0)),
		float64(runtime.GOMAXPROCS(0))/perSign.Seconds(), "pushes/s")
	return nil
}

// pushMeasure is one phase's rate and the CPU time this whole process (herald
// or the baseline, the receivers, the publishers) spent during it.
type pushMeasure struct {
	rate float64
	cpu  time.Duration
}

// cpuPer is the CPU time per unit of n units of work.
func (m pushMeasure) cpuPer(n int) float64 { return float64(m.cpu.Microseconds()) / float64(n) }

func pushMeasured(f func() (float64, error)) (pushMeasure, error) {
	c0 := pushCPUTime()
	r, err := f()
	return pushMeasure{rate: r, cpu: pushCPUTime() - c0}, err
}

// pushCPUTime is the user and system CPU time this process has used.
func pushCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pushBracket measures the baseline, then herald, then the baseline again,
// and returns herald's measure and the baselines' mean, so that a drift of
// the shared machine during the step weighs on both sides.
func pushBracket(ctx context.Context, step string, herald, baseline func() (float64, error)) (pushMeasure, pushMeasure, error) {
	var none pushMeasure
	b1, err := pushMeasured(baseline)
	if err != nil {
		return none, none, fmt.Errorf("baseline: %w", err)
	}
	stop := pushProfile(step)
	hr, err := pushMeasured(herald)
	stop()
	if err != nil {
		return none, none, fmt.Errorf("herald: %w", err)
	}
	b2, err := pushMeasured(baseline)
	if err != nil {
		return none, none, fmt.Errorf("baseline: %w", err)
	}
	return hr, pushMeasure{rate: (b1.rate + b2.rate) / 2, cpu: (b1.cpu + b2.cpu) / 2}, ctx.Err()
}

// pushProfile starts a CPU profile of the named phase when -push-profile is
// set and returns the function that stops it.
func pushProfile(name string) func() {
	if *pushProfileDir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(*pushProfileDir, "push-"+name+".pprof"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench push: profile:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "bench push: profile:", err)
		_ = f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}

// pushHerald is a herald running in this process.
type pushHerald struct {
	addr   string
	cli    *client.Client
	tr     *http.Transport
	dir    string
	cancel context.CancelFunc
	done   chan error
	halted bool
}

func pushLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// pushStartHerald runs herald on dir (a fresh one when "") and a free
// loopback port and returns once it has printed its ready line.
func pushStartHerald(ctx context.Context, dir string, args ...string) (*pushHerald, error) {
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "herald-bench-push"); err != nil {
			return nil, err
		}
	}
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	cfg, err := config.Parse(append([]string{
		"--data-dir", dir, "--http-addr", addr, "--mqtt-addr", "", "--mqtt-http-addr", "",
		"--secret-id", pushSecretID, "--secret-key", pushSecretKey, "--app-id", strconv.FormatInt(pushAppID, 10),
		"--allow-private-endpoints", "--log-level", "error",
	}, args...), func(string) string { return "" }, os.Stderr)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	h := &pushHerald{addr: addr, dir: dir, cancel: cancel, done: make(chan error, 1)}
	ready := &pushReadyWriter{ready: make(chan struct{})}
	go func() { h.done <- server.Run(rctx, cfg, ready, pushLogger()) }()
	timer := time.NewTimer(pushWaitLimit)
	defer timer.Stop()
	select {
	case <-ready.ready:
	case err := <-h.done:
		cancel()
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("herald stopped before ready: %w", err)
	case <-timer.C:
		h.stop()
		return nil, errors.New("herald not ready in time")
	}
	h.tr = &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second, DisableCompression: true}
	h.cli, err = client.New("http://"+addr, pushSecretID, pushSecretKey, client.WithHTTPClient(&http.Client{Transport: h.tr}))
	if err != nil {
		h.stop()
		return nil, err
	}
	return h, nil
}

// stop stops herald gracefully and removes its data.
func (h *pushHerald) stop() {
	h.halt()
	_ = os.RemoveAll(h.dir)
}

// halt stops herald gracefully and keeps its data.
func (h *pushHerald) halt() {
	if h.halted {
		return
	}
	h.halted = true
	h.cancel()
	timer := time.NewTimer(pushShutdownMax)
	defer timer.Stop()
	select {
	case err := <-h.done:
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench push: herald:", err)
		}
	case <-timer.C:
		fmt.Fprintln(os.Stderr, "bench push: herald did not stop in time")
	}
	if h.tr != nil {
		h.tr.CloseIdleConnections()
	}
}

// topic creates a topic with one subscription per receiver.
func (h *pushHerald) topic(ctx context.Context, name, format string, rcvs ...*pushReceiver) error {
	if _, err := h.cli.CreateTopic(ctx, client.CreateTopicRequest{TopicName: name}); err != nil {
		return err
	}
	for i, r := range rcvs {
		_, err := h.cli.Subscribe(ctx, client.SubscribeRequest{
			TopicName: name, SubscriptionName: "s" + strconv.Itoa(i),
			Protocol: client.ProtocolHTTP, Endpoint: r.URL, NotifyContentFormat: format,
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// deliver publishes msgs copies of body to the topic in batches from several
// goroutines and returns the delivery rate at counted, from the first
// delivery to the last of the msgs×len(counted) it waits for.
func (h *pushHerald) deliver(ctx context.Context, topicName string, msgs int, body string, counted ...*pushReceiver) (float64, error) {
	tally := newPushTally(msgs * len(counted))
	for _, r := range counted {
		r.tally.Store(tally)
	}
	defer func() {
		for _, r := range counted {
			r.disarm()
		}
	}()
	batches := (msgs + pushBatch - 1) / pushBatch
	var next atomic.Int64
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	published := make(chan error, 1)
	go func() {
		published <- pushWorkers(pctx, pushPublishers, func(ctx context.Context, _ int) error {
			for {
				b := int(next.Add(1)) - 1
				if b >= batches {
					return nil
				}
				n := min(pushBatch, msgs-b*pushBatch)
				_, err := h.cli.BatchPublishMessage(ctx, client.BatchPublishMessageRequest{
					TopicName: topicName, MsgBodies: slices.Repeat([]string{body}, n),
				})
				if err != nil {
					return err
				}
			}
		})
	}()
	select {
	case err := <-published:
		if err != nil {
			return 0, fmt.Errorf("publish: %w", err)
		}
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	if err := tally.wait(ctx, topicName); err != nil {
		return 0, err
	}
	return tally.rate(), nil
}

// pushPlain is the baseline for deliveries: a plain http.Client on a
// keep-alive transport posts the push each receiver captured from herald,
// perReceiver times to each, with herald's per-endpoint concurrency.
func pushPlain(ctx context.Context, perReceiver int, rcvs ...*pushReceiver) (float64, error) {
	tally, err := pushPlainTally(ctx, perReceiver, rcvs...)
	if err != nil {
		return 0, err
	}
	return tally.rate(), nil
}

// pushPlainTally is pushPlain returning the tally of the arrivals.
func pushPlainTally(ctx context.Context, perReceiver int, rcvs ...*pushReceiver) (*pushTally, error) {
	tally := newPushTally(perReceiver * len(rcvs))
	for _, r := range rcvs {
		if r.sample.Load() == nil {
			return nil, errors.New("baseline: receiver has no captured push to replay")
		}
		r.tally.Store(tally)
	}
	defer func() {
		for _, r := range rcvs {
			r.disarm()
		}
	}()
	tr := &http.Transport{
		MaxIdleConns: 4096, MaxIdleConnsPerHost: pushPerEndpoint,
		IdleConnTimeout: 90 * time.Second, DisableCompression: true,
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	left := make([]atomic.Int64, len(rcvs))
	for i := range left {
		left[i].Store(int64(perReceiver))
	}
	err := pushWorkers(ctx, len(rcvs)*pushPerEndpoint, func(ctx context.Context, w int) error {
		i := w % len(rcvs)
		r := rcvs[i]
		s := r.sample.Load()
		for left[i].Add(-1) >= 0 {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(s.body))
			if err != nil {
				return err
			}
			req.Header = s.header.Clone()
			resp, err := hc.Do(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("baseline: HTTP %d", resp.StatusCode)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := tally.wait(ctx, "baseline"); err != nil {
		return nil, err
	}
	return tally, nil
}

// pushRate runs n calls of batch (each pushBatch messages) from
// pushPublishWorkers goroutines and returns messages per second.
func pushRate(ctx context.Context, n int, batch func(ctx context.Context) error) (float64, error) {
	var next atomic.Int64
	begin := time.Now()
	err := pushWorkers(ctx, pushPublishWorkers, func(ctx context.Context, _ int) error {
		for next.Add(1) <= int64(n) {
			if err := batch(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return float64(n*pushBatch) / time.Since(begin).Seconds(), nil
}

// pushWorkers runs work in n goroutines and returns the first error, which
// also cancels the others.
func pushWorkers(ctx context.Context, n int, work func(ctx context.Context, worker int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := work(ctx, i); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return nil
}

// pushTally counts deliveries to one or more receivers and closes done when
// the wanted number has arrived, noting the first and the last arrival.
type pushTally struct {
	want  int64
	n     atomic.Int64
	first atomic.Int64 // Unix ns
	last  atomic.Int64
	done  chan struct{}
	// prev is the latest arrival and gap the longest pause between two.
	prev, gap atomic.Int64
}

func newPushTally(want int) *pushTally {
	return &pushTally{want: int64(want), done: make(chan struct{})}
}

func (t *pushTally) hit(now int64) {
	t.first.CompareAndSwap(0, now)
	if p := t.prev.Swap(now); p != 0 {
		for g := now - p; ; {
			old := t.gap.Load()
			if g <= old || t.gap.CompareAndSwap(old, g) {
				break
			}
		}
	}
	if t.n.Add(1) == t.want {
		t.last.Store(now)
		close(t.done)
	}
}

func (t *pushTally) wait(ctx context.Context, what string) error {
	timer := time.NewTimer(pushWaitLimit)
	defer timer.Stop()
	select {
	case <-t.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return fmt.Errorf("%s: %d of %d deliveries after %v", what, t.n.Load(), t.want, pushWaitLimit)
	}
}

// rate is deliveries per second between the first arrival and the last.
func (t *pushTally) rate() float64 {
	d := time.Duration(t.last.Load() - t.first.Load())
	if d <= 0 {
		return 0
	}
	return float64(t.want-1) / d.Seconds()
}

// pushReceiver is a local endpoint that answers 200 at once (or, with a hang
// channel, holds every request until it is closed) and counts into its
// current tally.
type pushReceiver struct {
	URL    string
	srv    *http.Server
	hang   chan struct{}
	held   atomic.Int64
	hits   atomic.Int64 // answered requests, ever
	tally  atomic.Pointer[pushTally]
	sample atomic.Pointer[pushSample]
	// onBody, set before the receiver is subscribed, sees every body.
	onBody func(body []byte, at time.Time)
}

// pushSample is the first push a receiver got, which the baseline replays.
type pushSample struct {
	body   []byte
	header http.Header
}

var pushBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func newPushReceiver(hang chan struct{}) (*pushReceiver, error) {
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &pushReceiver{URL: "http://" + ln.Addr().String() + "/push", hang: hang}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

func (r *pushReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	buf := pushBufs.Get().(*bytes.Buffer)
	defer pushBufs.Put(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(req.Body); err != nil {
		return
	}
	if r.hang != nil {
		r.held.Add(1)
		select {
		case <-r.hang:
		case <-req.Context().Done():
			return
		}
	}
	now := time.Now()
	r.hits.Add(1)
	if r.sample.Load() == nil {
		r.sample.CompareAndSwap(nil, &pushSample{body: bytes.Clone(buf.Bytes()), header: req.Header.Clone()})
	}
	if r.onBody != nil {
		r.onBody(buf.Bytes(), now)
	}
	if t := r.tally.Load(); t != nil {
		t.hit(now.UnixNano())
	}
	w.WriteHeader(http.StatusOK)
}

// arm counts the next want deliveries into a new tally.
func (r *pushReceiver) arm(want int) *pushTally {
	t := newPushTally(want)
	r.tally.Store(t)
	return t
}

func (r *pushReceiver) disarm() { r.tally.Store(nil) }

func (r *pushReceiver) close() { _ = r.srv.Close() }

// pushReadyWriter is herald's stdout: it notices the ready line.
type pushReadyWriter struct {
	mu    sync.Mutex
	buf   []byte
	ready chan struct{}
	once  sync.Once
}

func (w *pushReadyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		line, rest, ok := bytes.Cut(w.buf, []byte("\n"))
		if !ok {
			return len(p), nil
		}
		if string(line) == server.ReadyLine {
			w.once.Do(func() { close(w.ready) })
		}
		w.buf = rest
	}
}

// pushBody is a message body of n printable bytes.
func pushBody(n int) string { return strings.Repeat("m", n) }

// pushStamp is a pushBodySize body carrying its sequence number and send time.
func pushStamp(seq int, sent time.Time) string {
	s := fmt.Sprintf("seq=%08d;ts=%019d;", seq, sent.UnixNano())
	return s + strings.Repeat("x", max(0, pushBodySize-len(s)))
}

// pushParseStamp finds pushStamp's fields in a push body (the CMQ JSON
// envelope carries the body verbatim).
func pushParseStamp(b []byte) (seq int, sent int64, ok bool) {
	i := bytes.Index(b, []byte("seq="))
	if i < 0 || len(b) < i+4+8+4+19 {
		return 0, 0, false
	}
	seq, err1 := strconv.Atoi(string(b[i+4 : i+12]))
	sent, err2 := strconv.ParseInt(string(b[i+16:i+35]), 10, 64)
	return seq, sent, err1 == nil && err2 == nil
}
