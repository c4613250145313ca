package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/client"
)

// `herald version` and `herald --version` print the stamped version, the
// commit and the Go version.
func TestVersion(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"version", "--version"} {
		out, err := exec.Command(binary, arg).CombinedOutput()
		require.NoError(t, err, string(out))
		line := strings.TrimSpace(string(out))
		require.True(t, strings.HasPrefix(line, "herald "+stampedVersion+" (commit "), line)
		require.True(t, strings.HasSuffix(line, ", "+runtime.Version()+")"), line)
	}
}

// herald_build_info carries the same version; --log-format json writes one
// JSON object a line.
func TestBuildInfoAndJSONLogs(t *testing.T) {
	t.Parallel()
	n := start(t, t.TempDir(), nil, "--log-format", "json")
	resp, err := http.Get("http://" + n.addr + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var info string
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, "herald_build_info{") {
			info = l
		}
	}
	require.Contains(t, info, `version="`+stampedVersion+`"`)
	require.Contains(t, info, `goversion="`+runtime.Version()+`"`)
	require.True(t, strings.HasSuffix(info, "} 1"), info)

	_, err = n.stop()
	require.NoError(t, err)
	sc := bufio.NewScanner(strings.NewReader(n.stderr.String()))
	lines := 0
	for sc.Scan() {
		var rec map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &rec), "not JSON: %s", sc.Text())
		require.Contains(t, rec, "level")
		require.Contains(t, rec, "msg")
		lines++
	}
	require.Positive(t, lines)
	require.Contains(t, n.stderr.String(), `"msg":"herald starting","version":"`+stampedVersion+`"`)
}

func TestBadLogFormatRefused(t *testing.T) {
	t.Parallel()
	out, err := runServe(t, "--log-format", "xml")
	require.Error(t, err)
	require.Contains(t, out, `--log-format "xml": want text or json`)
}

// /metrics counts API requests by action and code, and reads queue depths
// and the engine's streams at scrape time.
func TestOperationalMetrics(t *testing.T) {
	t.Parallel()
	n := start(t, t.TempDir(), nil)
	ctx := context.Background()
	c := n.Client
	_, err := c.CreateQueue(ctx, client.CreateQueueRequest{QueueName: "jobs"})
	require.NoError(t, err)
	for _, body := range []string{"a", "b", "c"} {
		_, err = c.SendMessage(ctx, client.SendMessageRequest{QueueName: "jobs", MsgBody: body})
		require.NoError(t, err)
	}
	_, err = c.SendMessage(ctx, client.SendMessageRequest{QueueName: "jobs", MsgBody: "later", DelaySeconds: new(600)})
	require.NoError(t, err)
	_, err = c.ReceiveMessage(ctx, client.ReceiveMessageRequest{QueueName: "jobs", PollingWaitSeconds: new(1)})
	require.NoError(t, err)
	bad, err := client.New("http://"+n.addr, secretID, "not-the-key")
	require.NoError(t, err)
	_, err = bad.SendMessage(ctx, client.SendMessageRequest{QueueName: "jobs", MsgBody: "x"})
	require.Error(t, err)

	m := scrape(t, n)
	require.Equal(t, "1", m[`herald_api_requests_total{action="CreateQueue",code="0"}`])
	require.Equal(t, "4", m[`herald_api_requests_total{action="SendMessage",code="0"}`])
	require.Equal(t, "1", m[`herald_api_requests_total{action="SendMessage",code="4100"}`])
	require.Equal(t, "1", m[`herald_api_request_seconds_count{action="ReceiveMessage"}`])
	require.Equal(t, "1", m[`herald_api_request_seconds_bucket{action="ReceiveMessage",le="+Inf"}`])
	require.Contains(t, m, `herald_api_request_seconds_bucket{action="ReceiveMessage",le="32.768"}`, "buckets reach the 30 s long poll")
	require.Equal(t, "2", m[`herald_queue_messages{app_id="1000000",queue="jobs",state="active"}`])
	require.Equal(t, "1", m[`herald_queue_messages{app_id="1000000",queue="jobs",state="inflight"}`])
	require.Equal(t, "1", m[`herald_queue_messages{app_id="1000000",queue="jobs",state="delayed"}`])
	require.Equal(t, "1", m["herald_engine_up"])
	var streams int
	for k := range m {
		if strings.HasPrefix(k, "herald_engine_stream_bytes{") {
			streams++
		}
	}
	require.Positive(t, streams)
}

// scrape reads /metrics into a map from series (name and labels) to value.
func scrape(t *testing.T, n *node) map[string]string {
	t.Helper()
	resp, err := http.Get("http://" + n.addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		out[line[:i]] = line[i+1:]
	}
	require.NoError(t, sc.Err())
	return out
}
