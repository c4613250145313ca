package enginetest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Cluster is a JetStream cluster of real nats-server processes on
// 127.0.0.1, built from the nats-server module herald depends on. Start it
// once per test binary (in TestMain) and Stop it there.
type Cluster struct {
	dir   string
	nodes []*exec.Cmd
	urls  []string
	waits sync.WaitGroup
	logs  []*lockedBuffer
}

// StartCluster builds nats-server into a temporary directory and starts n
// nodes routed to each other, returning once JetStream can place a stream
// with a replica on every node.
func StartCluster(ctx context.Context, n int) (*Cluster, error) {
	dir, err := os.MkdirTemp("", "herald-cluster-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir}
	bin := filepath.Join(dir, "nats-server")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/nats-io/nats-server/v2")
	if out, err := build.CombinedOutput(); err != nil {
		c.Stop()
		return nil, fmt.Errorf("build nats-server: %w\n%s", err, out)
	}
	clients, routes := make([]string, n), make([]string, n)
	for i := range n {
		if clients[i], err = freeAddr(ctx); err != nil {
			c.Stop()
			return nil, err
		}
		if routes[i], err = freeAddr(ctx); err != nil {
			c.Stop()
			return nil, err
		}
	}
	for i := range n {
		host, port, _ := strings.Cut(clients[i], ":")
		var others []string
		for j, r := range routes {
			if j != i {
				others = append(others, "nats://"+r)
			}
		}
		store := filepath.Join(dir, fmt.Sprintf("n%d", i+1))
		// The nodes outlive the start's ctx: Stop ends them.
		cmd := exec.CommandContext(context.WithoutCancel(ctx), bin, "-a", host, "-p", port, "-n", fmt.Sprintf("n%d", i+1), "-js", "-sd", store,
			"--cluster_name", "herald-conformance", "--cluster", "nats://"+routes[i], "--routes", strings.Join(others, ","))
		logs := &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			c.Stop()
			return nil, err
		}
		c.nodes, c.logs = append(c.nodes, cmd), append(c.logs, logs)
		c.urls = append(c.urls, "nats://"+clients[i])
		c.waits.Add(1)
		go func() { defer c.waits.Done(); _ = cmd.Wait() }()
	}
	if err := c.waitReady(ctx, n); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// waitReady waits until a stream with n replicas can be made.
func (c *Cluster) waitReady(ctx context.Context, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var last error
	for {
		if last = c.probe(ctx, n); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster not ready: %w (last: %w)\n%s", ctx.Err(), last, c.Logs())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *Cluster) probe(ctx context.Context, n int) error {
	nc, err := nats.Connect(c.URL())
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "probe", Replicas: n}); err != nil {
		return err
	}
	return js.DeleteStream(ctx, "probe")
}

// URL is the client URL list of the nodes.
func (c *Cluster) URL() string { return strings.Join(c.urls, ",") }

// Logs is every node's output, for a failed test.
func (c *Cluster) Logs() string {
	var b strings.Builder
	for i, l := range c.logs {
		fmt.Fprintf(&b, "--- n%d\n%s", i+1, l.String())
	}
	return b.String()
}

// Stop kills the nodes and removes their files.
func (c *Cluster) Stop() {
	for _, cmd := range c.nodes {
		_ = cmd.Process.Kill()
	}
	c.waits.Wait()
	_ = os.RemoveAll(c.dir)
}

func freeAddr(ctx context.Context) (string, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return "", err
	}
	return addr, nil
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
