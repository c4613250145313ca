package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/herald-mq/herald/client"
)

// part is one kind of disruption, run for a number of trials under load.
type part struct {
	name, about string
	run         func(ctx context.Context, r *run) (figures, error)
}

var parts = []part{
	{"kill9", "kill -9 herald at a random instant, restart it on the same data directory", kill9},
	{"sigterm", "SIGTERM herald (a graceful stop) at a random instant, restart it", sigterm},
	{"cluster", "3-node JetStream cluster, two herald processes: kill -9 the stream leader, a follower or a herald, restart it", cluster},
}

// settings are the campaign's flags.
type settings struct {
	bin         binaries
	trials      int
	duration    time.Duration // the longest load before each disruption; each is random in [duration/4, duration]
	seed        uint64
	drain       time.Duration // after the load, give up waiting for acknowledged messages when none arrived for this long
	settle      time.Duration // how long after the last restart to keep watching for late duplicates
	inFlight    time.Duration // a push answered this long before a kill counts as in flight at it
	publishRate float64
	sendRate    float64
	slowDelay   time.Duration // the slow subscription's answer time
	fsync       string        // herald's --fsync on one node; empty is its default
	log         *slog.Logger
}

// run is one part's settings with its own random source (seeded from the
// seed and the part's name, so that a part reproduces its choices alone).
type run struct {
	settings
	rng *rand.Rand
}

func newRun(s settings, partName string) *run {
	var h uint64
	for _, c := range partName {
		h = h*31 + uint64(c)
	}
	return &run{settings: s, rng: rand.New(rand.NewPCG(s.seed, h))}
}

// sigtermGrace is how long herald has to exit 0 after SIGTERM (the contract).
const sigtermGrace = 10 * time.Second

func kill9(ctx context.Context, r *run) (figures, error) { return singleNode(ctx, r, false) }

func sigterm(ctx context.Context, r *run) (figures, error) { return singleNode(ctx, r, true) }

// singleNode runs one herald on its embedded engine and stops it trials
// times: with SIGTERM when graceful, else with kill -9.
func singleNode(ctx context.Context, r *run, graceful bool) (figures, error) {
	dir, err := os.MkdirTemp("", "herald-chaos-")
	if err != nil {
		return figures{}, err
	}
	defer os.RemoveAll(dir)
	l, fast, slow := r.receivers()
	defer fast.Close()
	defer slow.Close()
	addr, err := freeAddr(ctx)
	if err != nil {
		return figures{}, err
	}
	var extra []string
	if r.fsync != "" {
		extra = append(extra, "--fsync", r.fsync)
	}
	h, err := newHerald(r.bin.herald, addr, filepath.Join(dir, "data"), extra...)
	if err != nil {
		return figures{}, err
	}
	defer h.stop()
	if err := r.start(ctx, l, h); err != nil {
		return figures{}, err
	}
	if err := setup(ctx, h.Client, fast, slow); err != nil {
		return figures{}, err
	}
	ld := r.load(l, h.Client)
	err = r.campaign(ctx, ld, func(ctx context.Context, trial int) error {
		if graceful {
			inTime := h.proc.stop(sigtermGrace)
			if !inTime {
				l.Crashed() // killed -9 when the grace ran out
			}
			if !inTime || h.proc.err != nil {
				l.Failed(func(c *counts) { c.uncleanStops++ })
				r.log.Warn("SIGTERM: no exit 0 within 10s", "trial", trial, "exited", inTime, "err", h.proc.err)
			}
		} else {
			h.proc.kill()
			l.Crashed()
		}
		return r.start(ctx, l, h)
	})
	return l.Figures(r.inFlight), err
}

// cluster runs a 3-node JetStream cluster and two herald processes on it.
// Each trial kills with -9, in turn from a random start, the leader of
// herald's message stream, a follower, or a herald process, and
// restarts it.
func cluster(ctx context.Context, r *run) (figures, error) {
	dir, err := os.MkdirTemp("", "herald-chaos-cluster-")
	if err != nil {
		return figures{}, err
	}
	defer os.RemoveAll(dir)
	nc, err := startNatsCluster(ctx, r.bin.natsServer, dir, 3)
	if err != nil {
		return figures{}, err
	}
	defer nc.stop()
	l, fast, slow := r.receivers()
	defer fast.Close()
	defer slow.Close()
	heralds := make([]*herald, 2)
	for i := range heralds {
		addr, err := freeAddr(ctx)
		if err != nil {
			return figures{}, err
		}
		h, err := newHerald(r.bin.herald, addr, filepath.Join(dir, fmt.Sprintf("herald%d", i)),
			"--nats-url", nc.URL(), "--nats-replicas", "3")
		if err != nil {
			return figures{}, err
		}
		defer h.stop()
		if err := r.start(ctx, l, h); err != nil {
			return figures{}, err
		}
		heralds[i] = h
	}
	if err := setup(ctx, heralds[0].Client, fast, slow); err != nil {
		return figures{}, err
	}
	ld := r.load(l, heralds[0].Client, heralds[1].Client)
	first := r.rng.IntN(3)
	err = r.campaign(ctx, ld, func(ctx context.Context, trial int) error {
		switch (first + trial) % 3 {
		case 0:
			leader, err := streamLeader(ctx, nc.URL(), "HERALD_MESSAGES")
			if err != nil || nc.node(leader) == nil {
				r.log.Warn("no stream leader; killing a random node", "err", err)
				return r.crashNats(ctx, l, nc.nodes[r.rng.IntN(len(nc.nodes))], "a nats node")
			}
			return r.crashNats(ctx, l, nc.node(leader), "the stream leader")
		case 1:
			leader, _ := streamLeader(ctx, nc.URL(), "HERALD_MESSAGES")
			others := slices.DeleteFunc(slices.Clone(nc.nodes), func(n *natsNode) bool { return n.name == leader })
			return r.crashNats(ctx, l, others[r.rng.IntN(len(others))], "a follower")
		default:
			h := heralds[r.rng.IntN(len(heralds))]
			r.log.Info("kill -9", "herald", h.addr)
			h.proc.kill()
			l.Crashed()
			return r.start(ctx, l, h)
		}
	})
	return l.Figures(r.inFlight), err
}

// start starts h (again). A start that fails (herald exits, as it does when
// the cluster has no leader for one of its buckets yet) is counted and
// retried after a second, as a service manager would, up to 5 times.
func (r *run) start(ctx context.Context, l *ledger, h *herald) error {
	var err error
	for range 5 {
		if err = h.start(ctx); err == nil || ctx.Err() != nil {
			return err
		}
		l.Failed(func(c *counts) { c.failedStarts++ })
		lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
		r.log.Warn("herald did not start; retrying", "err", lines[len(lines)-1])
		sleep(ctx, time.Second)
	}
	return err
}

// crashNats kills a nats node, leaves it down for up to a second (long
// enough for a new leader to be elected), restarts it and waits until it has
// caught up.
func (r *run) crashNats(ctx context.Context, l *ledger, n *natsNode, what string) error {
	r.log.Info("kill -9", "nats", n.name, "which", what)
	n.proc.kill()
	l.Crashed()
	sleep(ctx, time.Duration(r.rng.Int64N(int64(time.Second))))
	if err := n.start(ctx); err != nil {
		return err
	}
	if err := n.waitHealthy(ctx, 60*time.Second); err != nil {
		r.log.Warn("restarted nats node not healthy", "node", n.name, "err", err)
	}
	return nil
}

// streamLeader names the nats server leading a stream.
func streamLeader(ctx context.Context, url, stream string) (string, error) {
	nc, err := nats.Connect(url, nats.Timeout(2*time.Second), nats.NoReconnect())
	if err != nil {
		return "", err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return "", err
	}
	info := s.CachedInfo()
	if info.Cluster == nil {
		return "", fmt.Errorf("stream %s: no cluster information", stream)
	}
	return info.Cluster.Leader, nil
}

// receivers makes the part's ledger and its two subscriptions' endpoints:
// "fast" answers at once, "slow" after slowDelay.
func (r *run) receivers() (*ledger, *receiver, *receiver) {
	l := newLedger(time.Now, "fast", "slow")
	return l, newReceiver("fast", 0, l), newReceiver("slow", r.slowDelay, l)
}

func (r *run) load(l *ledger, clients ...*client.Client) *load {
	return &load{clients: clients, ledger: l, publishRate: r.publishRate, sendRate: r.sendRate}
}

// campaign runs the load while it disrupts herald trials times, each after a
// random stretch of load; then it stops producing, waits until everything
// acknowledged has arrived, keeps watching until settle after the last
// restart, and stops consuming.
func (r *run) campaign(ctx context.Context, ld *load, disrupt func(ctx context.Context, trial int) error) error {
	produceCtx, stopProducing := context.WithCancel(ctx)
	consumeCtx, stopConsuming := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { ld.produce(produceCtx) })
	wg.Go(func() { ld.consume(consumeCtx) })
	defer wg.Wait()
	defer stopConsuming()
	defer stopProducing()

	lastRestart := time.Now()
	for trial := 1; trial <= r.trials; trial++ {
		d := r.duration/4 + time.Duration(r.rng.Int64N(int64(r.duration*3/4)+1))
		sleep(ctx, d)
		if err := ctx.Err(); err != nil {
			return err
		}
		begin := time.Now()
		if err := disrupt(ctx, trial); err != nil {
			return fmt.Errorf("trial %d: %w", trial, err)
		}
		lastRestart = time.Now()
		r.log.Info("trial", "n", trial, "load", d.Round(time.Millisecond), "down", lastRestart.Sub(begin).Round(time.Millisecond))
	}
	sleep(ctx, r.duration/2) // the restarted server takes load too
	stopProducing()

	r.waitDrained(ctx, ld.ledger)
	sleep(ctx, time.Until(lastRestart.Add(r.settle)))
	return ctx.Err()
}

// waitDrained waits until every acknowledged publish has reached every
// subscription and every acknowledged send has been received, or until
// nothing more has arrived for r.drain.
func (r *run) waitDrained(ctx context.Context, l *ledger) {
	last, lastChange, lastLog := -1, time.Now(), time.Now()
	for ctx.Err() == nil {
		pushes, sends := l.Outstanding()
		if time.Since(lastLog) >= 10*time.Second {
			r.log.Info("draining", "pushes outstanding", pushes, "sends outstanding", sends)
			lastLog = time.Now()
		}
		switch {
		case pushes+sends == 0:
			return
		case pushes+sends != last:
			last, lastChange = pushes+sends, time.Now()
		case time.Since(lastChange) > r.drain:
			r.log.Warn("not drained: nothing arrived for the drain time", "pushes outstanding", pushes, "sends outstanding", sends)
			return
		}
		sleep(ctx, 250*time.Millisecond)
	}
}
