package e2e

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/client"
)

// mountTmpfs mounts a tmpfs of size (e.g. "24m") on a new directory, or
// skips the test where mounting is not allowed (not root).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fill writes a file until the file system has no space left.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			require.ErrorIs(t, err, syscall.ENOSPC)
			return
		}
	}
}

// get returns the status and body of GET path on the node's HTTP port.
func (n *node) get(path string) (int, string) {
	n.t.Helper()
	res, err := http.Get("http://" + n.addr + path)
	require.NoError(n.t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(n.t, err)
	return res.StatusCode, string(body)
}

// A full disk: writes are refused with 6000/10800 and /readyz answers 503
// while /healthz stays 200; once space is freed herald takes writes again by
// itself, and every message acknowledged before and after is delivered or
// receivable.
func TestFullDiskRefusesWritesAndRecovers(t *testing.T) {
	t.Parallel()
	dir := mountTmpfs(t, "40m")
	recv := newReceiver(t)
	h := start(t, filepath.Join(dir, "data"), nil)
	ctx := context.Background()
	c := h.Client
	_, err := c.CreateTopic(ctx, client.CreateTopicRequest{TopicName: "t"})
	require.NoError(t, err)
	_, err = c.Subscribe(ctx, client.SubscribeRequest{TopicName: "t", SubscriptionName: "s", Protocol: "http", Endpoint: recv.URL})
	require.NoError(t, err)
	_, err = c.CreateQueue(ctx, client.CreateQueueRequest{QueueName: "q"})
	require.NoError(t, err)
	var published []string
	sent := map[string]bool{}
	write := func(i int) error {
		p, err := c.PublishMessage(ctx, client.PublishMessageRequest{TopicName: "t", MsgBody: "p" + strconv.Itoa(i)})
		if err != nil {
			return err
		}
		published = append(published, p.MsgID)
		s, err := c.SendMessage(ctx, client.SendMessageRequest{QueueName: "q", MsgBody: "s" + strconv.Itoa(i)})
		if err != nil {
			return err
		}
		sent[s.MsgID] = true
		return nil
	}
	for i := range 10 {
		require.NoError(t, write(i))
	}
	code, body := h.get("/readyz")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "ok\n", body)

	filler := filepath.Join(dir, "filler")
	fill(t, filler)
	// A write right after the disk filled may still fit in the engine's
	// last page, or reach its files and fail there; a refusal is the
	// storage error, within the bound.
	refused := 0
	for i := 10; refused < 5; i++ {
		require.Less(t, i, 1000, "writes never refused")
		begin := time.Now()
		err := write(i)
		require.Less(t, time.Since(begin), 2*(5*time.Second+time.Second))
		if err == nil {
			continue
		}
		refused++
		var apiErr *client.Error
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, 6000, apiErr.Code, "%v", err)
		require.Equal(t, 10800, apiErr.ModuleCode, "%v", err)
		require.Equal(t, "insufficient storage: the engine's disk is full, retry once space is freed", apiErr.Message)
	}
	code, body = h.get("/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "engine not ready: the disk is full\n", body)
	code, body = h.get("/healthz")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok\n", body)

	require.NoError(t, os.Remove(filler))
	require.Eventually(t, func() bool {
		code, _ := h.get("/readyz")
		return code == http.StatusOK
	}, 20*time.Second, 50*time.Millisecond, "/readyz did not recover after space was freed")
	for i := 1000; i < 1010; i++ {
		require.NoError(t, write(i))
	}

	recv.waitFor(t, published, 30*time.Second)
	got := map[string]bool{}
	wait := 1
	for len(got) < len(sent) {
		res, err := c.BatchReceiveMessage(ctx, client.BatchReceiveMessageRequest{QueueName: "q", NumOfMsg: 16, PollingWaitSeconds: &wait})
		var apiErr *client.Error
		if errors.As(err, &apiErr) && apiErr.Code == 7000 {
			break
		}
		require.NoError(t, err)
		for _, m := range res.MsgInfoList {
			got[m.MsgID] = true
		}
	}
	for id := range sent {
		require.True(t, got[id], "acknowledged send %s not receivable", id)
	}
	require.Len(t, got, len(sent), "nothing refused was stored")
}
