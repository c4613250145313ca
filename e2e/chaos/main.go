// Command chaos runs herald's chaos campaign: the real binary under publish,
// push and queue load, disrupted at random instants, then counts what came
// of every acknowledged message.
//
//	go run ./e2e/chaos                            # every part, 5 trials each
//	go run ./e2e/chaos -parts kill9 -trials 100   # a long kill -9 run
//
// Parts: kill9 (kill -9 and restart on the same data directory), sigterm
// (graceful restarts), cluster (a 3-node JetStream cluster of nats-server
// built from herald's go.mod, two herald processes; kill -9 a nats node, the
// stream leader among them, or a herald). Each part prints acknowledged,
// lost, duplicated and "came back after delete". The exit code is 1 when an
// acknowledged publish or send was lost or a deleted message came back (and,
// with -fail-duplicates, when a subscription was pushed a message again
// after answering 2xx to it, other than pushes in flight at a kill -9).
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(runCampaign(os.Args[1:]))
}

func runCampaign(args []string) int {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	var s settings
	fs.IntVar(&s.trials, "trials", 5, "disruptions per part")
	partsFlag := fs.String("parts", "kill9,sigterm,cluster", "comma-separated parts to run")
	fs.DurationVar(&s.duration, "duration", 3*time.Second, "the longest stretch of load before each disruption")
	seed := fs.Uint64("seed", 0, "random seed (0: from the clock; the seed used is printed)")
	verbose := fs.Bool("v", false, "log each trial")
	failDup := fs.Bool("fail-duplicates", false, "exit 1 also on duplicates not in flight at a kill -9")
	fs.DurationVar(&s.drain, "drain", 90*time.Second, "after the load, stop waiting for acknowledged messages when none arrived for this long")
	fs.DurationVar(&s.settle, "settle", 35*time.Second, "keep watching this long after the last restart (the fan-out's ack wait is 30s)")
	fs.DurationVar(&s.inFlight, "in-flight", inFlightWindow, "a push answered less than this before a kill -9 counts as in flight at it")
	fs.Float64Var(&s.publishRate, "publish-rate", 100, "publishes per second (above what the slow subscription takes: 16 in flight / -slow)")
	fs.Float64Var(&s.sendRate, "send-rate", 100, "queue sends per second")
	fs.DurationVar(&s.slowDelay, "slow", 300*time.Millisecond, "how long the slow subscription takes to answer")
	fs.StringVar(&s.fsync, "fsync", "", "herald --fsync for kill9 and sigterm (empty: herald's default)")
	timeout := fs.Duration("timeout", time.Hour, "stop everything after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	chosen, err := choose(*partsFlag)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 2
	}
	if s.trials < 1 || s.duration <= 0 {
		fmt.Fprintln(os.Stderr, "chaos: -trials and -duration must be positive")
		return 2
	}
	s.seed = cmp.Or(*seed, uint64(time.Now().UnixNano()))
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	s.log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, *timeout)
	defer cancelT()

	dir, err := os.MkdirTemp("", "herald-chaos-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	s.bin, err = build(ctx, dir, slices.ContainsFunc(chosen, func(p part) bool { return p.name == "cluster" }))
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 1
	}

	fmt.Printf("herald chaos: seed %d, %d trials per part, load up to %v before each\n", s.seed, s.trials, s.duration)
	failed := false
	for _, p := range chosen {
		begin := time.Now()
		f, err := p.run(ctx, newRun(s, p.name))
		fmt.Printf("%s: %s (%v)\n%s", p.name, p.about, time.Since(begin).Round(time.Second), f)
		if err != nil {
			fmt.Printf("  ERROR %v\n", err)
			failed = true
		}
		for _, fig := range f.List() {
			if fig.Value != 0 && fails(fig.Name, *failDup) {
				fmt.Printf("  FAIL %s: %d\n", fig.Name, fig.Value)
				failed = true
			}
		}
	}
	if failed {
		return 1
	}
	return 0
}

// fails says which figures fail the run: anything acknowledged lost,
// any deleted message back, and with failDup the duplicates that no kill -9
// explains.
func fails(name string, failDup bool) bool {
	switch name {
	case figPublishLost, figSendLost, figCameBack:
		return true
	case figDupNotInFlight:
		return failDup
	}
	return false
}

func choose(list string) ([]part, error) {
	var chosen []part
	for _, name := range strings.Split(list, ",") {
		i := slices.IndexFunc(parts, func(p part) bool { return p.name == strings.TrimSpace(name) })
		if i < 0 {
			return nil, fmt.Errorf("no part %q (parts: kill9, sigterm, cluster)", name)
		}
		chosen = append(chosen, parts[i])
	}
	return chosen, nil
}
