// Package e2e runs the real herald binary: start, stop, crash and restart.
package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/client"
)

const (
	secretID  = "AKIDe2eTestKey"
	secretKey = "e2eTestSecret"
)

var binary string

// The e2e binary is stamped as `make release` stamps releases.
const (
	versionPkg     = "github.com/herald-mq/herald/internal/version"
	stampedVersion = "v0.0.0-e2e"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "herald-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "herald")
	build := exec.Command("go", "build", "-ldflags", "-X "+versionPkg+".Version="+stampedVersion, "-o", binary, "../cmd/herald")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// node is one running herald process.
type node struct {
	t       *testing.T
	cmd     *exec.Cmd
	addr    string
	stderr  *lockedBuffer
	exited  chan error
	Client  *client.Client
	DataDir string
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

// freeAddr returns a loopback address free now, for a herald process to
// listen on. It is picked below Linux's ephemeral range (32768 and up), from
// which the kernel takes the local ports of outgoing connections and of
// listeners on port 0: a port from there, free when picked, was at times
// taken by one of the many connections of the parallel tests before herald
// could bind it.
func freeAddr(t *testing.T) string {
	t.Helper()
	for range 100 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(20000+rand.IntN(12000)))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		require.NoError(t, ln.Close())
		return addr
	}
	t.Fatal("no free loopback port in 20000-31999")
	return ""
}

// start runs herald on dataDir and waits for "herald ready".
func start(t *testing.T, dataDir string, env []string, args ...string) *node {
	t.Helper()
	return startVia(t, nil, dataDir, env, args...)
}

// startVia is start with herald run by a wrapper command, such as a shell
// that lowers a limit and execs its arguments.
func startVia(t *testing.T, wrapper []string, dataDir string, env []string, args ...string) *node {
	t.Helper()
	addr := freeAddr(t)
	base := []string{"serve", "--data-dir", dataDir, "--http-addr", addr, "--mqtt-addr", "", "--mqtt-http-addr", "",
		"--secret-id", secretID, "--secret-key", secretKey, "--allow-private-endpoints", "--retry-interval-scale", "0.01"}
	argv := append(append(append(wrapper[:len(wrapper):len(wrapper)], binary), base...), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	n := &node{t: t, cmd: cmd, addr: addr, stderr: &lockedBuffer{}, exited: make(chan error, 1), DataDir: dataDir}
	cmd.Stderr = n.stderr
	require.NoError(t, cmd.Start())
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "herald ready" {
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { n.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-n.exited
		}
		if t.Failed() {
			t.Logf("herald stderr:\n%s", n.stderr.String())
		}
	})
	select {
	case <-ready:
	case err := <-n.exited:
		t.Fatalf("herald exited before ready: %v\n%s", err, n.stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("herald not ready within 60s\n%s", n.stderr.String())
	}
	n.Client, err = client.New("http://"+addr, secretID, secretKey)
	require.NoError(t, err)
	return n
}

// kill sends SIGKILL and waits for the process to go.
func (n *node) kill() {
	n.t.Helper()
	require.NoError(n.t, n.cmd.Process.Signal(syscall.SIGKILL))
	<-n.exited
}

// stop sends SIGTERM and returns the exit error and how long it took.
func (n *node) stop() (time.Duration, error) {
	n.t.Helper()
	begin := time.Now()
	require.NoError(n.t, n.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-n.exited:
		return time.Since(begin), err
	case <-time.After(20 * time.Second):
		n.t.Fatal("herald did not exit within 20s of SIGTERM")
		return 0, nil
	}
}

// receiver is an HTTP endpoint that records the message ids pushed to it.
type receiver struct {
	srv  *http.Server
	URL  string
	mu   sync.Mutex
	ids  map[string]int
	note chan struct{}
	// Failing makes the receiver answer 503 (and record nothing).
	Failing atomic.Bool
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r := &receiver{ids: map[string]int{}, note: make(chan struct{}, 1), URL: "http://" + ln.Addr().String() + "/push"}
	r.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		if r.Failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		r.mu.Lock()
		r.ids[req.Header.Get("x-cmq-message-id")]++
		r.mu.Unlock()
		select {
		case r.note <- struct{}{}:
		default:
		}
		w.WriteHeader(http.StatusOK)
	})}
	go func() { _ = r.srv.Serve(ln) }()
	t.Cleanup(func() { _ = r.srv.Shutdown(context.Background()) })
	return r
}

// waitFor waits until every id has been received, or fails after d.
func (r *receiver) waitFor(t *testing.T, ids []string, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		r.mu.Lock()
		var missing []string
		for _, id := range ids {
			if r.ids[id] == 0 {
				missing = append(missing, id)
			}
		}
		r.mu.Unlock()
		if len(missing) == 0 {
			return
		}
		select {
		case <-r.note:
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatalf("%d of %d acknowledged messages never delivered, e.g. %v", len(missing), len(ids), missing[:min(5, len(missing))])
		}
	}
}

// runServe runs `herald serve` expecting it to exit by itself (a bad
// configuration) and returns its output.
func runServe(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base := []string{"serve", "--data-dir", t.TempDir(), "--http-addr", freeAddr(t), "--mqtt-addr", "", "--mqtt-http-addr", ""}
	out, err := exec.CommandContext(ctx, binary, append(base, args...)...).CombinedOutput()
	return string(out), err
}

// externalNATS starts a JetStream nats-server on a loopback port for the
// test and returns its URL.
func externalNATS(t *testing.T) string {
	t.Helper()
	host, portStr, err := net.SplitHostPort(freeAddr(t))
	require.NoError(t, err)
	port, err := strconv.Atoi(portStr)
	require.NoError(t, err)
	ns, err := server.NewServer(&server.Options{
		Host: host, Port: port, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true,
	})
	require.NoError(t, err)
	ns.Start()
	t.Cleanup(ns.Shutdown)
	require.True(t, ns.ReadyForConnections(10*time.Second))
	return "nats://" + net.JoinHostPort(host, portStr)
}
