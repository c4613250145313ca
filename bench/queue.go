package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/herald-mq/herald/client"
	"github.com/herald-mq/herald/internal/account"
	"github.com/herald-mq/herald/internal/api/cmq"
	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/engine"
	"github.com/herald-mq/herald/internal/nonce"
	"github.com/herald-mq/herald/internal/queue"
	"github.com/herald-mq/herald/internal/topic"
)

func init() {
	register("queue", "send→receive→delete cycles (16-message batches) vs raw JetStream work queue; RSS with 1M waiting; 1,000 long polls", benchQueue)
	// The memory figures are taken in a child process of this binary, so
	// that nothing else this process did counts.
	if mode := os.Getenv(queueChildEnv); mode != "" {
		if err := queueChild(mode); err != nil {
			fmt.Fprintln(os.Stderr, "queue child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

const (
	queueChildEnv    = "HERALD_BENCH_QUEUE_CHILD"
	queueWorkers     = 4
	queueRun         = 3 * time.Second
	queueBacklog     = 1_000_000
	queueLongPolls   = 1000
	queueAppID       = 1000000
	queueSecretID    = "AKIDbench"
	queueSecretKey   = "benchSecretKey"
	queueBatch       = queue.MaxBatch
	queueBodyPattern = "queue message body %06d, about sixty bytes of payload...."
)

func benchQueue(ctx context.Context, out *report) error {
	eng, closeEng, err := tempEngine(ctx, "herald-bench-queue-")
	if err != nil {
		return err
	}
	defer closeEng()
	svc, err := newBenchQueues(ctx, eng)
	if err != nil {
		return err
	}
	defer func() { _ = svc.Stop(context.Background()) }()
	api, err := newBenchAPI(ctx, eng, svc)
	if err != nil {
		return err
	}
	defer api.close()

	// CPU is this whole process's (getrusage) over each run, per message:
	// the embedded engine's and the driving client's included on both sides,
	// so the difference is what herald adds.
	var rawWQ, rawLimits, herald, viaAPI cycleMeasure
	for round := range 2 { // interleaved, best of each, to damp noise
		r, err := cycleRate(ctx, func(w int) (func(context.Context) error, error) {
			return rawCycle(ctx, eng, jetstream.WorkQueuePolicy, round, w)
		})
		if err != nil {
			return fmt.Errorf("raw: %w", err)
		}
		rawWQ = rawWQ.best(r)
		if r, err = cycleRate(ctx, func(w int) (func(context.Context) error, error) {
			return rawCycle(ctx, eng, jetstream.LimitsPolicy, round, w)
		}); err != nil {
			return fmt.Errorf("raw: %w", err)
		}
		rawLimits = rawLimits.best(r)
		h, err := cycleRate(ctx, func(w int) (func(context.Context) error, error) { return serviceCycle(ctx, svc, round, w) })
		if err != nil {
			return fmt.Errorf("service: %w", err)
		}
		a, err := cycleRate(ctx, func(w int) (func(context.Context) error, error) { return api.cycle(ctx, round, w) })
		if err != nil {
			return fmt.Errorf("api: %w", err)
		}
		herald, viaAPI = herald.best(h), viaAPI.best(a)
	}
	out.Figure("raw JetStream, work-queue stream (pull + v1 acks as herald does)", rawWQ.rate*queueBatch, "msg/s")
	out.Figure("raw JetStream, limits stream, nothing deleted (the same)", rawLimits.rate*queueBatch, "msg/s")
	raw := rawWQ.best(rawLimits)
	out.Figure("  process CPU per message, raw baseline (engine + raw client)", raw.cpuPerMsg(), "µs")
	out.Ratio("service send→receive→delete msgs/s vs raw", herald.rate*queueBatch, raw.rate*queueBatch, 0.5)
	out.Figure("  process CPU per message, service (engine + herald queue service)", herald.cpuPerMsg(), "µs")
	out.Ratio("API over loopback HTTP (Go client, signed) msgs/s vs raw", viaAPI.rate*queueBatch, raw.rate*queueBatch, 0.5)
	out.Figure("  process CPU per message, API (engine + herald + HTTP server + Go client)", viaAPI.cpuPerMsg(), "µs")

	for _, mode := range []string{"backlog", "polls"} {
		figs, err := runQueueChild(ctx, mode)
		if err != nil {
			return fmt.Errorf("%s: %w", mode, err)
		}
		for _, f := range figs {
			out.Figure(f.name, f.value, f.unit)
		}
	}
	return nil
}

func newBenchQueues(ctx context.Context, eng *engine.Engine) (*queue.Service, error) {
	// The janitor runs every second, so that its purges are part of the cost.
	svc, err := queue.New(ctx, queue.Config{PurgeInterval: time.Second}, queue.Deps{Engine: eng.WorkQueues(), KV: eng.Bucket, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	return svc, svc.Start(ctx)
}

// cycleRate runs queueWorkers workers, each on its own queue, for queueRun
// and returns the 16-message cycles per second and this process's CPU time
// over the run.
func cycleRate(ctx context.Context, setup func(worker int) (func(context.Context) error, error)) (cycleMeasure, error) {
	return runCycles(ctx, queueRun, setup)
}

// runCycles runs queueWorkers workers, each on its own queue, for run.
func runCycles(ctx context.Context, run time.Duration, setup func(worker int) (func(context.Context) error, error)) (cycleMeasure, error) {
	var none cycleMeasure
	cycles := make([]func(context.Context) error, queueWorkers)
	for w := range cycles {
		c, err := setup(w)
		if err != nil {
			return none, err
		}
		cycles[w] = c
	}
	var done atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, queueWorkers)
	runCtx, cancel := context.WithTimeout(ctx, run)
	defer cancel()
	start, cpu0 := time.Now(), cpuSeconds()
	for _, c := range cycles {
		wg.Go(func() {
			for runCtx.Err() == nil {
				if err := c(ctx); err != nil {
					errs <- err
					cancel()
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return none, err
	default:
	}
	return cycleMeasure{rate: float64(done.Load()) / time.Since(start).Seconds(), cycles: done.Load(), cpu: cpuSeconds() - cpu0}, nil
}

// cycleMeasure is one run of cycles: their rate, count and CPU seconds.
type cycleMeasure struct {
	rate   float64
	cycles int64
	cpu    float64
}

func (m cycleMeasure) best(o cycleMeasure) cycleMeasure {
	if o.rate > m.rate {
		return o
	}
	return m
}

// cpuPerMsg is the CPU time per message in µs.
func (m cycleMeasure) cpuPerMsg() float64 {
	if m.cycles == 0 {
		return 0
	}
	return m.cpu * 1e6 / float64(m.cycles*queueBatch)
}

func benchBodies() [][]byte {
	b := make([][]byte, queueBatch)
	for i := range b {
		b[i] = fmt.Appendf(nil, queueBodyPattern, i)
	}
	return b
}

// rawCycle is the baseline, the best raw client path, the one herald's
// queue service takes itself (internal/queue/messages.go): a work-queue
// stream and a pull consumer; publish 16 pipelined and await their
// acknowledgements; one pull request for 16 written by hand on an inbox
// subscribed once; 16 acknowledgements on the v1 ack subjects, the last one
// a request whose answer says all are recorded. What herald adds on top is
// its own: the queue index, receipt handles and the receipt records it
// stores per receive and per delete call for durability (record.go).
//
// It runs on two kinds of stream, and the faster is the baseline: a work
// queue, where each acknowledgement deletes its message, and a limits
// stream like herald's, where acknowledged messages stay until they age out
// (herald's janitor purges them; the raw side does not even do that).
func rawCycle(ctx context.Context, eng *engine.Engine, retention jetstream.RetentionPolicy, round, w int) (func(context.Context) error, error) {
	name := fmt.Sprintf("RAW_%d_%d_%d", retention, round, w)
	subj := "raw." + name
	stream, err := eng.Stream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subj}, Retention: retention})
	if err != nil {
		return nil, err
	}
	if _, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second}); err != nil {
		return nil, err
	}
	nc := eng.NC
	inbox := nc.NewInbox()
	ch := make(chan *nats.Msg, 4*queueBatch)
	if _, err := nc.ChanSubscribe(inbox, ch); err != nil { // lives as long as the engine's connection
		return nil, err
	}
	pullSubj := "$JS.API.CONSUMER.MSG.NEXT." + name + ".c"
	bodies := benchBodies()
	futures := make([]jetstream.PubAckFuture, len(bodies))
	msgs := make([]*nats.Msg, 0, queueBatch)
	return func(ctx context.Context) error {
		for i, b := range bodies {
			f, err := eng.JS.PublishMsgAsync(&nats.Msg{Subject: subj, Data: b})
			if err != nil {
				return err
			}
			futures[i] = f
		}
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				return err
			}
		}
		msgs = msgs[:0]
		timer := time.NewTimer(5 * time.Second)
		defer timer.Stop()
		for len(msgs) < queueBatch {
			req := fmt.Appendf(nil, `{"batch":%d,"expires":%d,"no_wait":true}`, queueBatch-len(msgs), time.Second.Nanoseconds())
			if err := nc.PublishRequest(pullSubj, inbox, req); err != nil {
				return err
			}
		pull:
			for len(msgs) < queueBatch {
				select {
				case m := <-ch:
					if len(m.Data) == 0 && m.Header.Get("Status") != "" {
						if m.Header.Get("Status") == "100" {
							continue
						}
						break pull // 404/408: this request is over
					}
					msgs = append(msgs, m)
				case <-timer.C:
					return errors.New("raw pull: no answer")
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		for _, m := range msgs[:len(msgs)-1] {
			if err := nc.Publish(m.Reply, nil); err != nil {
				return err
			}
		}
		_, err := nc.RequestWithContext(ctx, msgs[len(msgs)-1].Reply, nil)
		return err
	}, nil
}

func serviceCycle(ctx context.Context, svc *queue.Service, round, w int) (func(context.Context) error, error) {
	name := fmt.Sprintf("svc-%d-%d", round, w)
	if _, err := svc.CreateQueue(ctx, queue.Queue{AppID: queueAppID, Name: name}); err != nil {
		return nil, err
	}
	bodies := benchBodies()
	handles := make([]string, 0, queueBatch)
	return func(ctx context.Context) error {
		if _, err := svc.Send(ctx, queueAppID, name, bodies, 0); err != nil {
			return err
		}
		handles = handles[:0]
		for len(handles) < queueBatch {
			msgs, err := svc.Receive(ctx, queueAppID, name, queueBatch-len(handles), time.Second)
			if err != nil {
				return err
			}
			for _, m := range msgs {
				handles = append(handles, m.Handle)
			}
		}
		errs, err := svc.Delete(ctx, queueAppID, name, handles)
		if err != nil {
			return err
		}
		for _, e := range errs {
			if e != nil {
				return e
			}
		}
		return nil
	}, nil
}

// benchAPI serves the CMQ handler on a loopback listener (net/http, as
// herald serve does) and drives it with the Go client: real HTTP, signed
// forms, JSON answers.
type benchAPI struct {
	srv *http.Server
	cli *client.Client
}

func newBenchAPI(ctx context.Context, eng *engine.Engine, svc *queue.Service) (*benchAPI, error) {
	log := slog.New(slog.DiscardHandler)
	akv, err := eng.KV(ctx, account.Bucket, 1)
	if err != nil {
		return nil, err
	}
	accounts, err := account.Open(ctx, akv, log)
	if err != nil {
		return nil, err
	}
	if err := accounts.Put(ctx, account.Key{AppID: queueAppID, SecretID: queueSecretID, SecretKey: queueSecretKey}); err != nil {
		return nil, err
	}
	tkv, err := eng.Bucket(ctx, topic.TopicBucket, 1)
	if err != nil {
		return nil, err
	}
	skv, err := eng.Bucket(ctx, topic.SubscriptionBucket, 1)
	if err != nil {
		return nil, err
	}
	topics, err := topic.OpenStore(ctx, tkv, skv, clock.Real{}, log)
	if err != nil {
		return nil, err
	}
	pub, err := topic.NewPublisher(ctx, topics, eng)
	if err != nil {
		return nil, err
	}
	nonces, err := nonce.Open(ctx, eng.ExpiringBucket, 10*time.Minute)
	if err != nil {
		return nil, err
	}
	h, err := cmq.New(cmq.Config{}, cmq.Deps{Accounts: accounts, Topics: topics, Messages: pub, Nonces: nonces, Queues: svc, Log: log})
	if err != nil {
		return nil, err
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	tr := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second, DisableCompression: true}
	cli, err := client.New("http://"+ln.Addr().String(), queueSecretID, queueSecretKey, client.WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		_ = srv.Close()
		return nil, err
	}
	return &benchAPI{srv: srv, cli: cli}, nil
}

func (a *benchAPI) close() { _ = a.srv.Close() }

func (a *benchAPI) cycle(ctx context.Context, round, w int) (func(context.Context) error, error) {
	name := fmt.Sprintf("api-%d-%d", round, w)
	if _, err := a.cli.CreateQueue(ctx, client.CreateQueueRequest{QueueName: name}); err != nil {
		return nil, err
	}
	var bodies []string
	for _, b := range benchBodies() {
		bodies = append(bodies, string(b))
	}
	wait := 1
	handles := make([]string, 0, queueBatch)
	return func(ctx context.Context) error {
		if _, err := a.cli.BatchSendMessage(ctx, client.BatchSendMessageRequest{QueueName: name, MsgBodies: bodies}); err != nil {
			return err
		}
		handles = handles[:0]
		for len(handles) < queueBatch {
			got, err := a.cli.BatchReceiveMessage(ctx, client.BatchReceiveMessageRequest{QueueName: name, NumOfMsg: queueBatch - len(handles), PollingWaitSeconds: &wait})
			if err != nil {
				return err
			}
			for _, m := range got.MsgInfoList {
				handles = append(handles, m.ReceiptHandle)
			}
		}
		res, err := a.cli.BatchDeleteMessage(ctx, client.BatchDeleteMessageRequest{QueueName: name, ReceiptHandles: handles})
		if err != nil {
			return err
		}
		if len(res.ErrorList) > 0 {
			return fmt.Errorf("delete: %+v", res.ErrorList[0])
		}
		return nil
	}, nil
}

type figure struct {
	name  string
	value float64
	unit  string
}

// runQueueChild runs this binary in a child mode and reads its figures
// ("name|value|unit" lines).
func runQueueChild(ctx context.Context, mode string) ([]figure, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), queueChildEnv+"="+mode)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var figs []figure
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		parts := strings.Split(sc.Text(), "|")
		if len(parts) != 3 {
			continue
		}
		v, err := strconv.ParseFloat(parts[1], 64)
		if err != nil {
			continue
		}
		figs = append(figs, figure{parts[0], v, parts[2]})
	}
	return figs, cmd.Wait()
}

// queueChild measures one memory scenario in this (child) process. RSS is
// the kernel's figure for the whole process: herald, the embedded
// nats-server and the Go runtime.
func queueChild(mode string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	eng, closeEng, err := tempEngine(ctx, "herald-bench-queue-child-")
	if err != nil {
		return err
	}
	defer closeEng()
	svc, err := newBenchQueues(ctx, eng)
	if err != nil {
		return err
	}
	defer func() { _ = svc.Stop(context.Background()) }()
	if _, err := svc.CreateQueue(ctx, queue.Queue{AppID: queueAppID, Name: "q"}); err != nil {
		return err
	}
	emit := func(name string, v float64, unit string) { fmt.Printf("%s|%.2f|%s\n", name, v, unit) }
	base := rssMB()
	switch mode {
	case "backlog":
		bodies := benchBodies()
		start := time.Now()
		for sent := 0; sent < queueBacklog; sent += queueBatch {
			if _, err := svc.Send(ctx, queueAppID, "q", bodies, 0); err != nil {
				return err
			}
		}
		emit("1M messages waiting: send rate (16-batches, one sender)", queueBacklog/time.Since(start).Seconds(), "msg/s")
		msgs, err := svc.Receive(ctx, queueAppID, "q", queueBatch, 0)
		if err != nil || len(msgs) == 0 {
			return fmt.Errorf("receive from the backlog: %w", err)
		}
		emit("1M messages waiting: RSS (child process, /proc VmRSS; target < 300)", rssMB(), "MB")
		emit("1M messages waiting: peak RSS (VmHWM)", hwmMB(), "MB")
	case "polls":
		var wg sync.WaitGroup
		var got atomic.Int64
		pollCtx, stop := context.WithCancel(ctx)
		defer stop()
		for range queueLongPolls {
			wg.Go(func() {
				for pollCtx.Err() == nil {
					msgs, err := svc.Receive(pollCtx, queueAppID, "q", 1, 20*time.Second)
					if err == nil {
						got.Add(int64(len(msgs)))
						return
					}
				}
			})
		}
		time.Sleep(2 * time.Second) // let every poll reach the engine; then measure idle cost
		cpu0, idleStart := cpuSeconds(), time.Now()
		time.Sleep(5 * time.Second)
		idle := time.Since(idleStart).Seconds()
		emit("1,000 long polls waiting: RSS over an idle queue's (child, VmRSS)", rssMB()-base, "MB")
		emit("1,000 long polls waiting: CPU while idle", 100*(cpuSeconds()-cpu0)/idle, "% of a core")
		bodies := make([][]byte, queueLongPolls)
		for i := range bodies {
			bodies[i] = []byte("wake")
		}
		start := time.Now()
		for i := 0; i < len(bodies); i += queueBatch {
			if _, err := svc.Send(ctx, queueAppID, "q", bodies[i:min(len(bodies), i+queueBatch)], 0); err != nil {
				return err
			}
		}
		wg.Wait()
		emit("1,000 long polls: all woken by 1,000 sends in", float64(time.Since(start).Milliseconds()), "ms")
		if got.Load() != queueLongPolls {
			return fmt.Errorf("woken %d of %d", got.Load(), queueLongPolls)
		}
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	return nil
}

func procStatus(field string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

func rssMB() float64 { return procStatus("VmRSS") }
func hwmMB() float64 { return procStatus("VmHWM") }

func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
