package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
)

// natsBinary builds nats-server from the module herald depends on, once,
// next to the herald binary (TestMain removes both).
var natsBinary = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(filepath.Dir(binary), "nats-server")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/nats-io/nats-server/v2").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build nats-server: %w\n%s", err, out)
	}
	return bin, nil
})

// natsNode is one nats-server process of a test cluster.
type natsNode struct {
	name   string
	url    string
	cmd    *exec.Cmd
	exited chan struct{}
}

// natsCluster is a JetStream cluster of real nats-server processes on
// loopback.
type natsCluster struct {
	t     *testing.T
	nodes []*natsNode
}

// startNatsCluster starts n nats-servers routed to each other and waits
// until JetStream has a meta leader.
func startNatsCluster(t *testing.T, n int) *natsCluster {
	t.Helper()
	bin, err := natsBinary()
	require.NoError(t, err)
	clients, routes := make([]string, n), make([]string, n)
	for i := range n {
		clients[i], routes[i] = freeAddr(t), freeAddr(t)
	}
	c := &natsCluster{t: t}
	for i := range n {
		name := fmt.Sprintf("n%d", i+1)
		host, port, _ := strings.Cut(clients[i], ":")
		var others []string
		for j, r := range routes {
			if j != i {
				others = append(others, "nats://"+r)
			}
		}
		cmd := exec.Command(bin, "-a", host, "-p", port, "-n", name, "-js", "-sd", t.TempDir(),
			"--cluster_name", "herald-e2e", "--cluster", "nats://"+routes[i], "--routes", strings.Join(others, ","))
		logs := &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = logs, logs
		require.NoError(t, cmd.Start())
		node := &natsNode{name: name, url: "nats://" + clients[i], cmd: cmd, exited: make(chan struct{})}
		go func() { _ = cmd.Wait(); close(node.exited) }()
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-node.exited
			if t.Failed() {
				t.Logf("%s log:\n%s", name, logs.String())
			}
		})
		c.nodes = append(c.nodes, node)
	}
	require.Eventually(t, func() bool {
		nc, err := nats.Connect(c.URL())
		if err != nil {
			return false
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		// Ready once a stream with a replica on every node can be made.
		if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "probe", Replicas: n}); err != nil {
			return false
		}
		return js.DeleteStream(ctx, "probe") == nil
	}, 30*time.Second, 100*time.Millisecond, "the JetStream cluster cannot place a stream on every node")
	return c
}

// URL is the client URL list of the nodes still running.
func (c *natsCluster) URL() string {
	var urls []string
	for _, n := range c.nodes {
		urls = append(urls, n.url)
	}
	return strings.Join(urls, ",")
}

func (c *natsCluster) connect() (jetstream.JetStream, func()) {
	c.t.Helper()
	nc, err := nats.Connect(c.URL(), nats.MaxReconnects(-1))
	require.NoError(c.t, err)
	js, err := jetstream.New(nc)
	require.NoError(c.t, err)
	return js, nc.Close
}

// killLeader kill -9s the node leading stream and returns its name.
func (c *natsCluster) killLeader(stream string) string {
	c.t.Helper()
	js, closeJS := c.connect()
	defer closeJS()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	require.NoError(c.t, err)
	info, err := s.Info(ctx)
	require.NoError(c.t, err)
	require.NotNil(c.t, info.Cluster)
	for _, n := range c.nodes {
		if n.name == info.Cluster.Leader {
			require.NoError(c.t, n.cmd.Process.Signal(syscall.SIGKILL))
			<-n.exited
			return n.name
		}
	}
	c.t.Fatalf("stream %s: leader %q is none of the nodes", stream, info.Cluster.Leader)
	return ""
}
