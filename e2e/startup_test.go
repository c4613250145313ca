package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/client"
)

// exitsBy is how long a herald that cannot start gets to say why and exit;
// before the start-up checks it waited 30 s for the engine.
const exitsBy = 10 * time.Second

// serveFails runs `herald serve` with args after the defaults of runServe,
// expects it to exit non-zero within exitsBy, and returns its output.
func serveFails(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), exitsBy)
	defer cancel()
	base := []string{"serve", "--data-dir", t.TempDir(), "--http-addr", freeAddr(t), "--mqtt-addr", "", "--mqtt-http-addr", ""}
	out, err := exec.CommandContext(ctx, binary, append(base, args...)...).CombinedOutput()
	require.NoError(t, ctx.Err(), "herald did not exit within %v:\n%s", exitsBy, out)
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "herald serve must fail:\n%s", out)
	require.NotZero(t, exit.ExitCode())
	return string(out)
}

// A second herald on a data directory in use exits at once naming the
// process that holds it; the lock dies with its holder, even on kill -9.
func TestDataDirInUseByAnotherProcess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := start(t, dir, nil)
	abs, err := filepath.Abs(dir)
	require.NoError(t, err)

	out := serveFails(t, "--data-dir", dir)
	require.Contains(t, out, "data directory "+abs+" is in use by process "+strconv.Itoa(first.cmd.Process.Pid))
	require.NotContains(t, out, "herald ready")

	// The first one still serves.
	_, err = first.Client.CreateTopic(context.Background(), client.CreateTopicRequest{TopicName: "still-mine"})
	require.NoError(t, err)

	first.kill()
	second := start(t, dir, nil)
	_, err = second.Client.GetTopicAttributes(context.Background(), client.GetTopicAttributesRequest{TopicName: "still-mine"})
	require.NoError(t, err)
	_, err = second.stop()
	require.NoError(t, err)
}

// A data directory that cannot be created or written makes herald exit at
// once with the reason. Tests run as root, for whom a chmod 0500 directory
// is still writable, so the directory is put under a regular file: even
// root gets ENOTDIR.
func TestUnwritableDataDirExitsWithTheCause(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	dataDir := filepath.Join(file, "data")

	out := serveFails(t, "--data-dir", dataDir)
	require.Contains(t, out, "data directory "+dataDir+" cannot be created: ")
	require.Contains(t, out, "not a directory")
	require.NotContains(t, out, "did not start")
}

// A missing data directory is created, parents included.
func TestMissingDataDirIsCreated(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a", "b", "data")
	n := start(t, dir, nil)
	_, err := n.stop()
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(dir, "jetstream"))
	require.NoError(t, err)
}

// SIGTERM during start-up ends herald at once, whatever the engine does.
// A data dir under a file used to hold herald in start-up for 30 s, with
// SIGTERM ignored.
func TestSIGTERMDuringStartup(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	cmd := exec.Command(binary, "serve", "--data-dir", filepath.Join(file, "data"), "--http-addr", freeAddr(t),
		"--mqtt-addr", "", "--mqtt-http-addr", "")
	// Its first log line says herald's own code runs (and has its SIGTERM
	// handler): the Go runtime's default would end it at once otherwise.
	logged := &firstWrite{c: make(chan struct{})}
	cmd.Stderr = logged
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-logged.c:
	case <-done: // Wait returns once stderr is copied: logged.c is final
		select {
		case <-logged.c:
			return // it found the data dir unusable and said so before the signal
		default:
			t.Fatal("herald exited without a word")
		}
	case <-time.After(exitsBy):
		_ = cmd.Process.Kill()
		<-done
		t.Fatal("herald logged nothing")
	}
	_ = cmd.Process.Signal(syscall.SIGTERM) // it may have exited already: the data dir is unusable
	select {
	case <-done:
	case <-time.After(exitsBy):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("herald ignored SIGTERM during start-up for %v", exitsBy)
	}
}

// A port in use is found before anything is written to the data directory:
// no engine files, no generated credentials.
func TestPortInUseWritesNothing(t *testing.T) {
	t.Parallel()
	for _, flagName := range []string{"--http-addr", "--mqtt-addr", "--mqtt-http-addr", "--mqtt-tls-addr"} {
		t.Run(flagName, func(t *testing.T) {
			t.Parallel()
			busy, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			t.Cleanup(func() { _ = busy.Close() })
			dir := filepath.Join(t.TempDir(), "data")
			args := []string{"--data-dir", dir, flagName, busy.Addr().String()}
			if flagName == "--mqtt-tls-addr" {
				cert, key := writeSelfSigned(t)
				args = append(args, "--mqtt-tls-cert", cert, "--mqtt-tls-key", key)
			}
			out := serveFails(t, args...)
			require.Contains(t, out, busy.Addr().String())
			require.Contains(t, out, "address already in use")
			require.NotContains(t, out, "generated API credentials")
			_, err = os.Stat(dir)
			require.ErrorIs(t, err, os.ErrNotExist, "nothing may be written before the listeners are open:\n%s", out)
		})
	}
}

// firstWrite closes c on the first write to it.
type firstWrite struct {
	c    chan struct{}
	once sync.Once
}

func (w *firstWrite) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.c) })
	return len(p), nil
}

// capture records the last request a client sends, to send its very bytes
// again.
type capture struct {
	method, url, contentType string
	body                     []byte
}

func (c *capture) RoundTrip(r *http.Request) (*http.Response, error) {
	c.method, c.url, c.contentType = r.Method, r.URL.String(), r.Header.Get("Content-Type")
	c.body = nil
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		c.body = b
		r.Body = io.NopCloser(strings.NewReader(string(b)))
	}
	return http.DefaultTransport.RoundTrip(r)
}

// replay sends the captured bytes again and returns the response's code and
// message.
func (c *capture) replay(t *testing.T) (int, string) {
	t.Helper()
	req, err := http.NewRequest(c.method, c.url, strings.NewReader(string(c.body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", c.contentType)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var env struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&env))
	return env.Code, env.Message
}

// A signed request captured before a restart (graceful or kill -9) is
// refused after it while its Timestamp is still in the window: nonces are
// kept in the engine, not in the process's memory.
func TestReplayRefusedAfterRestart(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"SIGTERM", "SIGKILL"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			n := start(t, dir, nil)
			rec := &capture{}
			c, err := client.New("http://"+n.addr, secretID, secretKey, client.WithHTTPClient(&http.Client{Transport: rec}))
			require.NoError(t, err)
			_, err = c.CreateTopic(context.Background(), client.CreateTopicRequest{TopicName: "replayed"})
			require.NoError(t, err)
			code, msg := rec.replay(t)
			require.Equal(t, 4100, code, "%s %s %s", msg, rec.url, rec.body)

			if how == "SIGKILL" {
				n.kill()
			} else {
				_, err := n.stop()
				require.NoError(t, err)
			}
			start(t, dir, nil, "--http-addr", n.addr) // the captured request's Host
			code, msg = rec.replay(t)
			require.Equal(t, 4100, code)
			require.Equal(t, "(10030)authentication failed: Nonce was already used", msg)
			// The topic was created once, and fresh requests still pass.
			_, err = c.DeleteTopic(context.Background(), client.DeleteTopicRequest{TopicName: "replayed"})
			require.NoError(t, err)
		})
	}
}

// No command's help, and no log line of a start, prints a secret taken from
// the environment or the configuration file: help names the variable that
// is set instead.
func TestHelpAndLogsNeverPrintSecrets(t *testing.T) {
	t.Parallel()
	const (
		apiKey       = "envSecretKey-7f3a9c"
		fileKey      = "fileSecretKey-51bd02"
		mqttPassword = "mqttPassword-c0ffee"
	)
	cfg := filepath.Join(t.TempDir(), "herald.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("secret_id: AKIDfromFile\nsecret_key: "+fileKey+"\n"+
		"mqtt:\n  users:\n    - username: dev\n      password: "+mqttPassword+"\n"), 0o600))
	env := append(os.Environ(), "HERALD_SECRET_KEY="+apiKey, "HERALD_SECRET_ID=AKIDfromEnv", "HERALD_CONFIG="+cfg)
	secrets := []string{apiKey, fileKey, mqttPassword}
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), exitsBy)
		defer cancel()
		cmd := exec.CommandContext(ctx, binary, args...)
		cmd.Env = env
		out, _ := cmd.CombinedOutput()
		require.NoError(t, ctx.Err(), "herald %v hung", args)
		for _, s := range secrets {
			require.NotContains(t, string(out), s, "herald %v prints a secret", args)
		}
		return string(out)
	}

	top := run("-h")
	run("serve", "-h")
	run("serve", "--help")
	commands := 0
	for _, line := range strings.Split(top, "\n") {
		f := strings.Fields(line)
		if !strings.HasPrefix(line, "  herald ") || f[1] == "serve" || f[1] == "version" || f[1] == "completion" {
			continue
		}
		group := f[1]
		if group == "publish" {
			help := run("publish", "-h")
			require.Contains(t, help, "$HERALD_SECRET_KEY, set")
			commands++
			continue
		}
		for _, sub := range strings.Split(run(group, "-h"), "\n") {
			sf := strings.Fields(sub)
			if len(sf) == 0 || sf[0] == "usage:" {
				continue
			}
			help := run(group, sf[0], "-h")
			require.Contains(t, help, "usage: herald "+group+" "+sf[0], "help of %s %s", group, sf[0])
			require.Contains(t, help, "$HERALD_SECRET_KEY, set")
			commands++
		}
	}
	require.Greater(t, commands, 15, "every client command's help was read:\n%s", top)

	// A failing client command (nothing listens) does not print the key.
	run("topic", "list", "--server", "http://"+freeAddr(t))

	// Nor does a start, whose log says where the settings came from.
	n := start(t, t.TempDir(), []string{"HERALD_CONFIG=" + cfg, "HERALD_SECRET_KEY=" + apiKey})
	_, err := n.stop()
	require.NoError(t, err)
	for _, s := range append(secrets, secretKey) {
		require.NotContains(t, n.stderr.String(), s)
	}
}

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 and its
// key as PEM files and returns their paths.
func writeSelfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certFile, keyFile
}
