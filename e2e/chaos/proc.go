package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/herald-mq/herald/client"
)

const (
	secretID  = "AKIDchaosKey"
	secretKey = "chaosSecret"
)

// binaries are the programs the campaign runs, built once per run.
type binaries struct {
	herald, natsServer string
}

// build compiles herald and, for the cluster part, nats-server from the
// version herald's go.mod requires.
func build(ctx context.Context, dir string, natsServer bool) (binaries, error) {
	b := binaries{herald: filepath.Join(dir, "herald")}
	pkgs := [][2]string{{b.herald, "github.com/herald-mq/herald/cmd/herald"}}
	if natsServer {
		b.natsServer = filepath.Join(dir, "nats-server")
		pkgs = append(pkgs, [2]string{b.natsServer, "github.com/nats-io/nats-server/v2"})
	}
	for _, p := range pkgs {
		out, err := exec.CommandContext(ctx, "go", "build", "-o", p[0], p[1]).CombinedOutput()
		if err != nil {
			return b, fmt.Errorf("go build %s: %w\n%s", p[1], err, out)
		}
	}
	return b, nil
}

// freeAddr finds a free port on 127.0.0.1.
func freeAddr(ctx context.Context) (string, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// process is a child process whose output is kept (the last 64 KiB) for
// when something goes wrong.
type process struct {
	cmd    *exec.Cmd
	out    *tail
	exited chan struct{}
	err    error // set when exited is closed
}

// startProcess runs bin; ctx ending kills it. ready is called on each line of
// its standard output, and the channel returned is closed on the first line
// it accepts.
func startProcess(ctx context.Context, bin string, args []string, ready func(line string) bool) (*process, <-chan struct{}, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.SysProcAttr = dieWithParent()
	p := &process{cmd: cmd, out: &tail{}, exited: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	cmd.Stderr = p.out
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	isReady := make(chan struct{})
	var once sync.Once
	go func() {
		sc := bufio.NewScanner(io.TeeReader(stdout, p.out))
		for sc.Scan() {
			if ready(sc.Text()) {
				once.Do(func() { close(isReady) })
			}
		}
		_, _ = io.Copy(p.out, stdout)
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, isReady, nil
}

// kill sends SIGKILL and waits for the process to go.
func (p *process) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// stop sends SIGTERM and waits up to grace; a process still running then is
// killed. It says whether the process exited by itself in time (p.err has
// its exit status).
func (p *process) stop(grace time.Duration) bool {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.exited:
		return true
	case <-t.C:
		p.kill()
		return false
	}
}

// herald is one herald serve process; restarting it keeps its address and
// data directory.
type herald struct {
	bin, addr string
	args      []string
	proc      *process
	transport *http.Transport
	Client    *client.Client
}

// newHerald prepares herald serve on addr and dataDir with extra flags; start
// runs it.
func newHerald(bin, addr, dataDir string, extra ...string) (*herald, error) {
	args := append([]string{"serve", "--data-dir", dataDir, "--http-addr", addr,
		"--mqtt-addr", "", "--mqtt-http-addr", "", "--secret-id", secretID, "--secret-key", secretKey,
		"--allow-private-endpoints", "--retry-interval-scale", "0.01", "--log-level", "warn"}, extra...)
	tr := &http.Transport{MaxIdleConnsPerHost: 32}
	c, err := client.New("http://"+addr, secretID, secretKey, client.WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		return nil, err
	}
	return &herald{bin: bin, addr: addr, args: args, transport: tr, Client: c}, nil
}

// stop ends the process with SIGTERM (kill -9 after 20 s) and closes the
// client's connections.
func (h *herald) stop() {
	if h.proc != nil {
		h.proc.stop(20 * time.Second)
	}
	h.transport.CloseIdleConnections()
}

// start runs the process and waits for "herald ready".
func (h *herald) start(ctx context.Context) error {
	p, ready, err := startProcess(ctx, h.bin, h.args, func(line string) bool { return line == "herald ready" })
	if err != nil {
		return err
	}
	h.proc = p
	t := time.NewTimer(60 * time.Second)
	defer t.Stop()
	select {
	case <-ready:
		return nil
	case <-p.exited:
		return fmt.Errorf("herald exited before ready: %w\n%s", p.err, p.out)
	case <-t.C:
		p.kill()
		return fmt.Errorf("herald not ready within 60s\n%s", p.out)
	case <-ctx.Done():
		p.kill()
		return ctx.Err()
	}
}

// natsNode is one nats-server of the cluster; restarting it keeps its ports
// and store.
type natsNode struct {
	name, conf, clientURL, monitor string
	bin                            string
	proc                           *process
}

// natsCluster is a JetStream cluster of nats-server processes on 127.0.0.1.
type natsCluster struct {
	nodes []*natsNode
}

func startNatsCluster(ctx context.Context, bin, dir string, size int) (*natsCluster, error) {
	type ports struct{ client, cluster, monitor string }
	all := make([]ports, size)
	for i := range all {
		for _, p := range []*string{&all[i].client, &all[i].cluster, &all[i].monitor} {
			a, err := freeAddr(ctx)
			if err != nil {
				return nil, err
			}
			*p = a
		}
	}
	c := &natsCluster{}
	for i, p := range all {
		var routes []string
		for j, q := range all {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats-route://%s", q.cluster))
			}
		}
		name := fmt.Sprintf("n%d", i)
		conf := filepath.Join(dir, name+".conf")
		text := fmt.Sprintf("server_name: %s\nlisten: %q\nhttp: %q\njetstream { store_dir: %q }\n"+
			"cluster { name: chaos, listen: %q, routes: [%s] }\n",
			name, p.client, p.monitor, filepath.Join(dir, name), p.cluster, strings.Join(routes, ", "))
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, &natsNode{name: name, conf: conf, bin: bin,
			clientURL: "nats://" + p.client, monitor: "http://" + p.monitor})
	}
	for _, n := range c.nodes {
		if err := n.start(ctx); err != nil {
			c.stop()
			return nil, err
		}
	}
	for _, n := range c.nodes {
		if err := n.waitHealthy(ctx, 60*time.Second); err != nil {
			c.stop()
			return nil, err
		}
	}
	return c, nil
}

// URL is the comma-separated list of the nodes' client URLs.
func (c *natsCluster) URL() string {
	urls := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		urls[i] = n.clientURL
	}
	return strings.Join(urls, ",")
}

func (c *natsCluster) node(name string) *natsNode {
	for _, n := range c.nodes {
		if n.name == name {
			return n
		}
	}
	return nil
}

func (c *natsCluster) stop() {
	for _, n := range c.nodes {
		if n.proc != nil {
			n.proc.stop(10 * time.Second)
		}
	}
}

func (n *natsNode) start(ctx context.Context) error {
	p, _, err := startProcess(ctx, n.bin, []string{"-c", n.conf}, func(string) bool { return false })
	if err != nil {
		return err
	}
	n.proc = p
	return nil
}

// waitHealthy waits until the node's /healthz answers 200: it is connected
// and its JetStream assets are current.
func (n *natsNode) waitHealthy(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		if err := get(ctx, n.monitor+"/healthz"); err == nil {
			return nil
		}
		select {
		case <-n.proc.exited:
			return fmt.Errorf("nats-server %s exited: %w\n%s", n.name, n.proc.err, n.proc.out)
		case <-ctx.Done():
			return fmt.Errorf("nats-server %s not healthy within %v: %w", n.name, limit, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// tail keeps the last 64 KiB written to it.
type tail struct {
	mu sync.Mutex
	b  []byte
}

const tailSize = 64 << 10

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > tailSize {
		t.b = append(t.b[:0], t.b[len(t.b)-tailSize:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

var errNotOK = errors.New("not 200")

// monitorClient asks nats-server's monitoring port; no keep-alive, so
// nothing lingers between questions.
var monitorClient = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func get(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return err
	}
	resp, err := monitorClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %w: %s", url, errNotOK, resp.Status)
	}
	return nil
}
