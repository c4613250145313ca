// Command bench runs herald's benchmarks. Each scenario measures herald and a
// baseline (a plain Go HTTP client, raw JetStream, raw MQTT) in the same run and
// prints the ratio, because the machines it runs on are shared and noisy.
//
//	go run ./bench            # every scenario
//	go run ./bench push mqtt  # the named ones
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"sort"
	"time"

	"github.com/herald-mq/herald/internal/engine"
)

// scenario is one benchmark; files of this package register theirs in init.
type scenario struct {
	about string
	run   func(ctx context.Context, out *report) error
}

var scenarios = map[string]scenario{}

func register(name, about string, run func(ctx context.Context, out *report) error) {
	scenarios[name] = scenario{about: about, run: run}
}

// report prints one result line per figure.
type report struct{ name string }

// Figure prints a named measurement with its unit.
func (r *report) Figure(name string, value float64, unit string) {
	fmt.Printf("%-8s %-58s %12.2f %s\n", r.name, name, value, unit)
}

// Ratio prints herald's figure against the baseline's and the target; a
// target of 0 means none.
func (r *report) Ratio(name string, herald, baseline, target float64) {
	ratio := 0.0
	if baseline > 0 {
		ratio = herald / baseline
	}
	if target <= 0 {
		fmt.Printf("%-8s %-58s %12.3f (herald %.0f / baseline %.0f)\n", r.name, name, ratio, herald, baseline)
		return
	}
	verdict := "meets"
	if ratio < target {
		verdict = "BELOW"
	}
	fmt.Printf("%-8s %-58s %12.3f (herald %.0f / baseline %.0f; target >= %.2f: %s)\n",
		r.name, name, ratio, herald, baseline, target, verdict)
}

func main() {
	timeout := flag.Duration("timeout", 10*time.Minute, "stop after this long")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go run ./bench [scenario ...]")
		names := make([]string, 0, len(scenarios))
		for n := range scenarios {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(os.Stderr, "  %-8s %s\n", n, scenarios[n].about)
		}
	}
	flag.Parse()
	names := flag.Args()
	if len(names) == 0 {
		for n := range scenarios {
			names = append(names, n)
		}
		slices.Sort(names)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, *timeout)
	defer cancelT()
	failed := false
	for _, n := range names {
		s, ok := scenarios[n]
		if !ok {
			fmt.Fprintf(os.Stderr, "bench: no scenario %q\n", n)
			flag.Usage()
			cancelT()
			os.Exit(2) //nolint:gocritic // cancelT ran just above
		}
		if err := s.run(ctx, &report{name: n}); err != nil {
			fmt.Fprintf(os.Stderr, "bench %s: %v\n", n, err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

// tempEngine opens an embedded engine in a new temporary directory; close
// stops it and removes the directory.
func tempEngine(ctx context.Context, prefix string) (eng *engine.Engine, close func(), err error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, nil, err
	}
	eng, err = engine.Open(ctx, engine.Config{DataDir: dir}, slog.New(slog.DiscardHandler))
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, nil, err
	}
	return eng, func() { _ = eng.Close(); _ = os.RemoveAll(dir) }, nil
}
