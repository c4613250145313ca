package e2e

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/client"
)

func TestReadyHealthAndGracefulStop(t *testing.T) {
	t.Parallel()
	n := start(t, t.TempDir(), nil)
	resp, err := http.Get("http://" + n.addr + "/healthz")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "ok\n", string(body))
	resp, err = http.Get("http://" + n.addr + "/metrics")
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(body), "herald_engine_up 1")
	resp, err = http.Get("http://" + n.addr + "/mns/x509_public_certificate.pem")
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.True(t, strings.HasPrefix(string(body), "-----BEGIN CERTIFICATE-----"))

	took, err := n.stop()
	require.NoError(t, err, "exit status 0 on SIGTERM")
	require.Less(t, took, 10*time.Second)
}

// A kill -9 right after the last acknowledged publish loses nothing: after
// a restart on the same data dir, every acknowledged message is delivered.
// The receiver fails until the crash, so that the messages are in every
// state when the process dies: stored, fanned out, waiting for a retry.
func TestKillNineLosesNoAcknowledgedPublish(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if d := os.Getenv("HERALD_E2E_KEEP"); d != "" {
		dir = d
	}
	recv := newReceiver(t)
	recv.Failing.Store(true)
	n := start(t, dir, nil)
	ctx := context.Background()
	_, err := n.Client.CreateTopic(ctx, client.CreateTopicRequest{TopicName: "crash"})
	require.NoError(t, err)
	_, err = n.Client.Subscribe(ctx, client.SubscribeRequest{TopicName: "crash", SubscriptionName: "s", Protocol: "http", Endpoint: recv.URL})
	require.NoError(t, err)

	var mu sync.Mutex
	var acked []string
	killAt := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				bodies := []string{}
				for j := range 8 {
					bodies = append(bodies, strings.Repeat("x", 200)+string(rune('a'+w))+string(rune('a'+j)))
				}
				res, err := n.Client.BatchPublishMessage(ctx, client.BatchPublishMessageRequest{TopicName: "crash", MsgBodies: bodies})
				if err != nil {
					return // the process is gone: this batch was never acknowledged
				}
				mu.Lock()
				for _, m := range res.MsgList {
					acked = append(acked, m.MsgID)
				}
				total := len(acked)
				mu.Unlock()
				if total >= 2000 {
					once.Do(func() { close(killAt) })
				}
			}
		}()
	}
	<-killAt
	n.kill()
	wg.Wait()
	mu.Lock()
	ids := append([]string(nil), acked...)
	mu.Unlock()
	require.GreaterOrEqual(t, len(ids), 2000)

	recv.Failing.Store(false)
	start(t, dir, nil)
	recv.waitFor(t, ids, 90*time.Second)
}

func TestConfigFromEnvAndYAML(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "herald.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("max_subscriptions_per_topic: 1\napp_id: 4242\n"), 0o600))
	n := start(t, t.TempDir(), []string{"HERALD_CONFIG=" + cfg, "HERALD_APP_ID=777"})
	ctx := context.Background()
	_, err := n.Client.CreateTopic(ctx, client.CreateTopicRequest{TopicName: "t"})
	require.NoError(t, err)
	_, err = n.Client.Subscribe(ctx, client.SubscribeRequest{TopicName: "t", SubscriptionName: "a", Protocol: "http", Endpoint: "http://example.com"})
	require.NoError(t, err)
	_, err = n.Client.Subscribe(ctx, client.SubscribeRequest{TopicName: "t", SubscriptionName: "b", Protocol: "http", Endpoint: "http://example.com"})
	var cerr *client.Error
	require.True(t, errors.As(err, &cerr), "%v", err)
	require.Equal(t, 4500, cerr.Code, "the YAML limit applies")
	attrs, err := n.Client.GetSubscriptionAttributes(ctx, client.GetSubscriptionAttributesRequest{TopicName: "t", SubscriptionName: "a"})
	require.NoError(t, err)
	require.Equal(t, "777", attrs.TopicOwner, "env wins over YAML")
}

func TestCLIAgainstRunningServer(t *testing.T) {
	t.Parallel()
	n := start(t, t.TempDir(), nil)
	run := func(args ...string) (string, error) {
		cmd := exec.Command(binary, args...)
		cmd.Env = append(os.Environ(), "HERALD_SERVER=http://"+n.addr, "HERALD_SECRET_ID="+secretID, "HERALD_SECRET_KEY="+secretKey)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("topic", "create", "cli", "--max-msg-size", "2048")
	require.NoError(t, err, out)
	require.Regexp(t, `^topicId:  topic-[0-9a-z]+\n$`, out)
	out, err = run("subscription", "create", "cli", "s", "--endpoint", "http://example.com/x", "--tag", "a", "--tag", "b")
	require.NoError(t, err, out)
	out, err = run("subscription", "get", "cli", "s", "-o", "json")
	require.NoError(t, err, out)
	require.Contains(t, out, "\"filterTag\": [\n    \"a\",\n    \"b\"\n  ]")
	out, err = run("publish", "cli", "hello", "--tag", "b")
	require.NoError(t, err, out)
	require.Regexp(t, `^msgId:  [0-9A-F]{32}\n$`, out)
	out, err = run("topic", "delete", "cli")
	require.Error(t, err)
	require.Contains(t, out, "code 4000 (10540)")
	out, err = run("topic", "get", "cli")
	require.NoError(t, err, out)
	require.Contains(t, out, "\nmaxMsgSize:           2048\n")
}

// Push outcomes are counted at /metrics.
func TestPushMetrics(t *testing.T) {
	t.Parallel()
	recv := newReceiver(t)
	n := start(t, t.TempDir(), nil)
	ctx := context.Background()
	_, err := n.Client.CreateTopic(ctx, client.CreateTopicRequest{TopicName: "m"})
	require.NoError(t, err)
	_, err = n.Client.Subscribe(ctx, client.SubscribeRequest{TopicName: "m", SubscriptionName: "s", Protocol: "http", Endpoint: recv.URL})
	require.NoError(t, err)
	res, err := n.Client.PublishMessage(ctx, client.PublishMessageRequest{TopicName: "m", MsgBody: "x"})
	require.NoError(t, err)
	recv.waitFor(t, []string{res.MsgID}, 10*time.Second)
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + n.addr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(body), `herald_push_attempts_total{outcome="delivered"} 1`)
	}, 10*time.Second, 50*time.Millisecond)
}

// The dashboard shows the account's topics to its SecretId and SecretKey.
func TestDashboard(t *testing.T) {
	t.Parallel()
	n := start(t, t.TempDir(), nil)
	ctx := context.Background()
	_, err := n.Client.CreateTopic(ctx, client.CreateTopicRequest{TopicName: "shown"})
	require.NoError(t, err)
	get := func(user, pass string) (int, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.addr+"/dashboard", nil)
		require.NoError(t, err)
		req.SetBasicAuth(user, pass)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	code, _ := get(secretID, "not the key")
	require.Equal(t, http.StatusUnauthorized, code)
	code, body := get(secretID, secretKey)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "<b>shown</b>")
	require.Contains(t, body, "APPID 1000000")
}

// A failing endpoint's messages wait for their retries: msgCount in
// GetSubscriptionAttributes counts them.
func TestMsgCountIsTheRetryBacklog(t *testing.T) {
	t.Parallel()
	recv := newReceiver(t)
	recv.Failing.Store(true)
	n := start(t, t.TempDir(), nil, "--retry-interval-scale", "1") // retries 19-29 s away
	ctx := context.Background()
	_, err := n.Client.CreateTopic(ctx, client.CreateTopicRequest{TopicName: "b"})
	require.NoError(t, err)
	_, err = n.Client.Subscribe(ctx, client.SubscribeRequest{TopicName: "b", SubscriptionName: "s", Protocol: "http",
		Endpoint: recv.URL, NotifyStrategy: "BACKOFF_RETRY"})
	require.NoError(t, err)
	for _, body := range []string{"one", "two"} {
		_, err := n.Client.PublishMessage(ctx, client.PublishMessageRequest{TopicName: "b", MsgBody: body})
		require.NoError(t, err)
	}
	msgCount := func() int64 {
		attrs, err := n.Client.GetSubscriptionAttributes(ctx, client.GetSubscriptionAttributesRequest{TopicName: "b", SubscriptionName: "s"})
		require.NoError(t, err)
		return attrs.MsgCount
	}
	require.Eventually(t, func() bool { return msgCount() == 2 }, 10*time.Second, 50*time.Millisecond)
}

// SIGTERM with a push hanging: herald cuts it short within the contract's
// 10 s, exits 0, and the message, handed back to the engine, is delivered
// after a restart.
func TestSIGTERMHandsBackHangingPushes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	release := make(chan struct{})
	hung := make(chan struct{}, 1)
	var mu sync.Mutex
	var delivered []string
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
			mu.Lock()
			delivered = append(delivered, r.Header.Get("x-cmq-message-id"))
			mu.Unlock()
		default:
			hung <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
				return // herald gave up on us
			}
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	n := start(t, dir, nil)
	ctx := context.Background()
	_, err = n.Client.CreateTopic(ctx, client.CreateTopicRequest{TopicName: "slow"})
	require.NoError(t, err)
	_, err = n.Client.Subscribe(ctx, client.SubscribeRequest{TopicName: "slow", SubscriptionName: "s", Protocol: "http", Endpoint: "http://" + ln.Addr().String()})
	require.NoError(t, err)
	res, err := n.Client.PublishMessage(ctx, client.PublishMessageRequest{TopicName: "slow", MsgBody: "patience"})
	require.NoError(t, err)
	select {
	case <-hung:
	case <-time.After(10 * time.Second):
		t.Fatal("the push never arrived")
	}
	took, err := n.stop()
	require.NoError(t, err, "exit 0")
	require.Less(t, took, 10*time.Second)
	close(release)
	start(t, dir, nil)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(delivered, res.MsgID)
	}, 60*time.Second, 50*time.Millisecond)
}

// TestPprofOnlyWhenAsked: --pprof-addr serves the runtime profiles on a
// listener of its own; the API listener never serves them.
func TestPprofOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	get := func(url string) (int, string) {
		resp, err := http.Get(url) //nolint:noctx // a test's one-shot request
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	off := start(t, t.TempDir(), nil)
	code, _ := get("http://" + off.addr + "/debug/pprof/")
	require.NotEqual(t, http.StatusOK, code, "no profiles on the API listener by default")

	pp := freeAddr(t)
	on := start(t, t.TempDir(), nil, "--pprof-addr", pp)
	code, body := get("http://" + pp + "/debug/pprof/")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "goroutine")
	code, _ = get("http://" + pp + "/debug/pprof/profile?seconds=1")
	require.Equal(t, http.StatusOK, code)
	code, _ = get("http://" + on.addr + "/debug/pprof/")
	require.NotEqual(t, http.StatusOK, code, "no profiles on the API listener")
}
