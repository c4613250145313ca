package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/herald-mq/herald/client"
	"github.com/herald-mq/herald/internal/server"
)

// The e2e scenario runs herald as a new user does: the real binary, built
// with `go build`, started with `herald serve` on a temporary data dir as a
// process of its own; this process is the publisher and the receiver. It
// publishes e2eMsgs bodies with BatchPublishMessage (16 a call, 8 at once)
// to one topic with one HTTP subscription and counts deliveries per second
// from the first publish to the last delivery. The baseline, measured in the
// same run on the same receiver, is a plain net/http client posting the
// pushes herald made (the same bodies and headers) with herald's
// per-endpoint concurrency, timed from its first post to the last arrival.
// Herald's CPU is its process's own (utime+stime in /proc/<pid>/stat).

func init() {
	register("e2e", "herald as its own process (the real binary): BatchPublishMessage → HTTP push, deliveries/s vs a plain net/http client; herald's CPU per delivery", benchE2E)
}

var (
	e2eRounds  = flag.Int("e2e-rounds", 3, "baseline/herald/baseline rounds of the e2e scenario")
	e2eProfile = flag.String("e2e-profile", "",
		"start herald with --pprof-addr and write CPU profiles of its measured phases into this directory")
)

const (
	e2eMsgs       = 60000
	e2ePublishers = 8
	e2eWarmup     = 2000
)

func benchE2E(ctx context.Context, out *report) error {
	dir, err := os.MkdirTemp("", "herald-bench-e2e")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	bin := filepath.Join(dir, "herald")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/herald")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/herald (run the bench from the repository root): %w", err)
	}
	rcv, err := newPushReceiver(nil)
	if err != nil {
		return err
	}
	defer rcv.close()
	h, err := e2eStart(ctx, bin, filepath.Join(dir, "data"))
	if err != nil {
		return err
	}
	defer h.stop()
	if err := h.topic(ctx, "e2e", client.FormatJSON, rcv); err != nil {
		return err
	}
	body := pushBody(pushBodySize)
	// Warm up connections and consumers, and capture the push the baseline replays.
	if _, err := h.run(ctx, "e2e", e2eWarmup, body, rcv, ""); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	var ratios, cpus []float64
	for round := range *e2eRounds {
		b1, err := e2ePlain(ctx, e2eMsgs, rcv)
		if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		prof := ""
		if *e2eProfile != "" {
			prof = filepath.Join(*e2eProfile, fmt.Sprintf("e2e-herald-%d.pprof", round))
		}
		hm, err := h.run(ctx, "e2e", e2eMsgs, body, rcv, prof)
		if err != nil {
			return fmt.Errorf("herald: %w", err)
		}
		b2, err := e2ePlain(ctx, e2eMsgs, rcv)
		if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		base := (b1 + b2) / 2
		ratios = append(ratios, hm.rate/base)
		cpus = append(cpus, hm.cpuPer(e2eMsgs))
		out.Ratio(fmt.Sprintf("round %d: deliveries/s, first publish→last delivery, vs plain c=%d", round+1, pushPerEndpoint), hm.rate, base, 0.6)
		out.Figure(fmt.Sprintf("round %d: herald process CPU per delivered message (target <= 50)", round+1), hm.cpuPer(e2eMsgs), "µs")
	}
	if len(ratios) > 1 {
		out.Figure(fmt.Sprintf("ratio over %d rounds: min", len(ratios)), slices.Min(ratios), "")
		out.Figure(fmt.Sprintf("ratio over %d rounds: max", len(ratios)), slices.Max(ratios), "")
		out.Figure("herald CPU per delivery over the rounds: min", slices.Min(cpus), "µs")
		out.Figure("herald CPU per delivery over the rounds: max", slices.Max(cpus), "µs")
	}
	return nil
}

// e2eHerald is herald running as a process of its own.
type e2eHerald struct {
	*pushHerald
	cmd      *exec.Cmd
	exited   chan error
	pprofURL string
}

func e2eFreeAddr() (string, error) {
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// e2eStart runs `herald serve` on dataDir and returns once it has printed
// its ready line.
func e2eStart(ctx context.Context, bin, dataDir string) (*e2eHerald, error) {
	addr, err := e2eFreeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--data-dir", dataDir, "--http-addr", addr, "--mqtt-addr", "", "--mqtt-http-addr", "",
		"--secret-id", pushSecretID, "--secret-key", pushSecretKey, "--app-id", strconv.FormatInt(pushAppID, 10),
		"--allow-private-endpoints", "--log-level", "error"}
	h := &e2eHerald{exited: make(chan error, 1)}
	if *e2eProfile != "" {
		pp, err := e2eFreeAddr()
		if err != nil {
			return nil, err
		}
		args = append(args, "--pprof-addr", pp)
		h.pprofURL = "http://" + pp + "/debug/pprof/profile"
	}
	h.cmd = exec.CommandContext(ctx, bin, args...) //nolint:gosec // the binary this bench just built
	h.cmd.Stderr = os.Stderr
	stdout, err := h.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := h.cmd.Start(); err != nil {
		return nil, err
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == server.ReadyLine {
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { h.exited <- h.cmd.Wait() }()
	timer := time.NewTimer(pushWaitLimit)
	defer timer.Stop()
	select {
	case <-ready:
	case err := <-h.exited:
		return nil, fmt.Errorf("herald exited before ready: %w", err)
	case <-timer.C:
		_ = h.cmd.Process.Kill()
		return nil, errors.New("herald not ready in time")
	case <-ctx.Done():
		_ = h.cmd.Process.Kill()
		return nil, ctx.Err()
	}
	tr := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second, DisableCompression: true}
	cli, err := client.New("http://"+addr, pushSecretID, pushSecretKey, client.WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		h.stop()
		return nil, err
	}
	h.pushHerald = &pushHerald{addr: addr, cli: cli, tr: tr, halted: true}
	return h, nil
}

// stop ends herald with SIGTERM and waits for it.
func (h *e2eHerald) stop() {
	if h.pushHerald != nil && h.tr != nil {
		h.tr.CloseIdleConnections()
	}
	_ = h.cmd.Process.Signal(os.Interrupt)
	timer := time.NewTimer(pushShutdownMax)
	defer timer.Stop()
	var err error
	select {
	case err = <-h.exited:
	case <-timer.C:
		_ = h.cmd.Process.Kill()
		err = <-h.exited
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench e2e: herald:", err)
	}
}

// cpu is herald's user and system CPU time so far (/proc/<pid>/stat).
func (h *e2eHerald) cpu() (time.Duration, error) {
	return procCPU(h.cmd.Process.Pid)
}

// procCPU reads utime+stime of a process; the kernel counts them in clock
// ticks, which are 1/100 s on Linux.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("/proc stat: no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 { // fields 3.. from here: utime is field 14, stime 15
		return 0, errors.New("/proc stat: too few fields")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// run publishes msgs copies of body to the topic in 16-message batches from
// e2ePublishers goroutines and returns the deliveries per second at rcv from
// the first publish to the last delivery, and herald's CPU over that span.
// With prof set it writes a CPU profile of herald taken meanwhile.
func (h *e2eHerald) run(ctx context.Context, topicName string, msgs int, body string, rcv *pushReceiver, prof string) (pushMeasure, error) {
	var none pushMeasure
	tally := rcv.arm(msgs)
	defer rcv.disarm()
	profDone := make(chan error, 1)
	if prof != "" && h.pprofURL != "" {
		// The phase lasts a few seconds; the profile covers its first 3.
		go func() { profDone <- fetchProfile(ctx, h.pprofURL+"?seconds=3", prof) }()
	} else {
		profDone <- nil
	}
	c0, err := h.cpu()
	if err != nil {
		return none, err
	}
	self0 := pushCPUTime()
	start := time.Now()
	batches := (msgs + pushBatch - 1) / pushBatch
	var next atomic.Int64
	err = pushWorkers(ctx, e2ePublishers, func(ctx context.Context, _ int) error {
		bodies := slices.Repeat([]string{body}, pushBatch)
		for {
			b := int(next.Add(1)) - 1
			if b >= batches {
				return nil
			}
			n := min(pushBatch, msgs-b*pushBatch)
			if _, err := h.cli.BatchPublishMessage(ctx, client.BatchPublishMessageRequest{TopicName: topicName, MsgBodies: bodies[:n]}); err != nil {
				return err
			}
		}
	})
	if err != nil {
		return none, fmt.Errorf("publish: %w", err)
	}
	if err := tally.wait(ctx, topicName); err != nil {
		return none, err
	}
	c1, err := h.cpu()
	if err != nil {
		return none, err
	}
	self := pushCPUTime() - self0
	if err := <-profDone; err != nil {
		fmt.Fprintln(os.Stderr, "bench e2e: profile:", err)
	}
	span := time.Duration(tally.last.Load() - start.UnixNano())
	fmt.Fprintf(os.Stderr, "bench e2e: %d deliveries in %v (bench process CPU %.1f µs each), longest pause between two %v, first after %v; %s\n",
		msgs, span.Round(time.Millisecond), float64(self.Microseconds())/float64(msgs), time.Duration(tally.gap.Load()).Round(time.Millisecond),
		time.Duration(tally.first.Load()-start.UnixNano()).Round(time.Millisecond), pushCounters(ctx, h.addr))
	return pushMeasure{rate: float64(msgs) / span.Seconds(), cpu: c1 - c0}, nil
}

func fetchProfile(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// e2ePlain is the baseline: a plain http.Client on a keep-alive transport
// posts the push rcv captured from herald msgs times with herald's
// per-endpoint concurrency; deliveries per second from the first post to
// the last arrival.
func e2ePlain(ctx context.Context, msgs int, rcv *pushReceiver) (float64, error) {
	start, self0 := time.Now(), pushCPUTime()
	tally, err := pushPlainTally(ctx, msgs, rcv)
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(os.Stderr, "bench e2e: baseline, bench process CPU %.1f µs per delivery\n",
		float64((pushCPUTime()-self0).Microseconds())/float64(msgs))
	return float64(msgs) / time.Duration(tally.last.Load()-start.UnixNano()).Seconds(), nil
}

// pushCounters reads herald's push counters from its /metrics at addr.
func pushCounters(ctx context.Context, addr string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return err.Error()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	var keep []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "herald_push_") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "; ")
}
