package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/client"
)

// cliAs runs a client command of the real binary against n with a key.
func cliAs(n *node, id, key string, args ...string) (string, error) {
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "HERALD_SERVER=http://"+n.addr, "HERALD_SECRET_ID="+id, "HERALD_SECRET_KEY="+key)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// exitCode is the exit status of a finished command, 0 without an error.
func exitCode(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "%v", err)
	return ee.ExitCode()
}

func TestCLIAccountsAndKeys(t *testing.T) {
	t.Parallel()
	n := start(t, t.TempDir(), nil)
	admin := func(args ...string) (string, error) { return cliAs(n, secretID, secretKey, args...) }

	out, err := admin("account", "create", "team", "-o", "json")
	require.NoError(t, err, out)
	var made struct {
		AppID     int64  `json:"appId"`
		Name      string `json:"name"`
		SecretID  string `json:"secretId"`
		SecretKey string `json:"secretKey"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &made), out)
	require.Equal(t, int64(1000001), made.AppID)
	require.Equal(t, "team", made.Name)
	team := func(args ...string) (string, error) { return cliAs(n, made.SecretID, made.SecretKey, args...) }

	// The new key works, in its own namespace.
	out, err = team("topic", "create", "mine")
	require.NoError(t, err, out)
	out, err = team("topic", "list", "-o", "json")
	require.NoError(t, err, out)
	require.Contains(t, out, `"topicName": "mine"`)
	out, err = admin("topic", "list", "-o", "json")
	require.NoError(t, err, out)
	require.Contains(t, out, `"totalCount": 0`, "the bootstrap account does not see team's topic")

	// A second key for rotation; the list shows SecretIds, never keys.
	out, err = team("key", "create", "-o", "json")
	require.NoError(t, err, out)
	var second struct {
		SecretID  string `json:"secretId"`
		SecretKey string `json:"secretKey"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &second), out)
	out, err = team("key", "list", "-o", "json")
	require.NoError(t, err, out)
	require.Contains(t, out, `"totalCount": 2`)
	require.Contains(t, out, made.SecretID)
	require.Contains(t, out, second.SecretID)
	require.NotContains(t, out, made.SecretKey)
	require.NotContains(t, out, second.SecretKey)
	require.NotContains(t, out, "secretKey")
	out, err = admin("account", "list", "-o", "json")
	require.NoError(t, err, out)
	require.Contains(t, out, `"name": "team"`)
	require.Contains(t, out, `"name": "bootstrap"`)

	// The table: one row per key, times as times, no secret.
	out, err = admin("key", "list", "--app-id", strconv.FormatInt(made.AppID, 10))
	require.NoError(t, err, out)
	require.Regexp(t, `APP ID\s+SECRET ID\s+ADMIN\s+CREATE TIME`, out)
	require.Regexp(t, made.SecretID+`\s+false\s+20\d\d-`, out)
	require.NotContains(t, out, made.SecretKey)

	// A key that is not an admin key cannot manage accounts.
	out, err = team("account", "list")
	require.Equal(t, 1, exitCode(t, err), out)
	require.Contains(t, out, "code 4000 (10461)")

	// Revoked, the first key is refused; the second goes on.
	out, err = admin("key", "revoke", made.SecretID)
	require.NoError(t, err, out)
	out, err = team("topic", "list")
	require.Equal(t, 1, exitCode(t, err), out)
	require.Contains(t, out, "code 4100 (10270)")
	team2 := func(args ...string) (string, error) { return cliAs(n, second.SecretID, second.SecretKey, args...) }
	out, err = team2("topic", "list")
	require.NoError(t, err, out)
	require.Contains(t, out, "TOPIC NAME")
	require.Contains(t, out, "mine")

	// An account with a topic stays; emptied, it goes with its keys.
	appID := strconv.FormatInt(made.AppID, 10)
	out, err = admin("account", "delete", appID)
	require.Equal(t, 1, exitCode(t, err), out)
	require.Contains(t, out, "code 4000 (10920)")
	out, err = team2("topic", "delete", "mine")
	require.NoError(t, err, out)
	out, err = admin("account", "delete", appID)
	require.NoError(t, err, out)
	out, err = team2("topic", "list")
	require.Equal(t, 1, exitCode(t, err), out)
	require.Contains(t, out, "code 4100 (10270)")
	out, err = admin("key", "revoke", secretID)
	require.Equal(t, 1, exitCode(t, err), out)
	require.Contains(t, out, "code 4000 (10940)", "the last admin key stays")
}

// A key revoked through one herald process is refused by another process
// of the same cluster within a second. Before, each process cached a key
// it had looked up for as long as it ran.
func TestKeyRevokedOnOneProcessIsRefusedByTheOther(t *testing.T) {
	t.Parallel()
	url := externalNATS(t)
	a := start(t, t.TempDir(), nil, "--nats-url", url, "--nats-replicas", "1")
	b := start(t, t.TempDir(), nil, "--nats-url", url, "--nats-replicas", "1")
	ctx := context.Background()

	made, err := a.Client.CreateAccount(ctx, client.CreateAccountRequest{Name: "tenant"})
	require.NoError(t, err)
	viaA, err := client.New("http://"+a.addr, made.SecretID, made.SecretKey)
	require.NoError(t, err)
	viaB, err := client.New("http://"+b.addr, made.SecretID, made.SecretKey)
	require.NoError(t, err)
	// Both processes have looked the key up (and cached it).
	for _, c := range []*client.Client{viaA, viaB} {
		_, err := c.ListTopic(ctx, client.ListTopicRequest{})
		require.NoError(t, err)
	}

	_, err = a.Client.RevokeKey(ctx, client.RevokeKeyRequest{SecretID: made.SecretID})
	require.NoError(t, err)
	revoked := time.Now()
	_, err = viaA.ListTopic(ctx, client.ListTopicRequest{})
	require.ErrorIs(t, err, client.ErrAuthFailed, "refused at once where it was revoked")
	require.Eventually(t, func() bool {
		_, err := viaB.ListTopic(ctx, client.ListTopicRequest{})
		return errors.Is(err, client.ErrAuthFailed)
	}, time.Second, 10*time.Millisecond, "the other process still accepts the revoked key")
	t.Logf("refused by the other process %v after the revocation", time.Since(revoked))
	_, err = viaB.ListTopic(ctx, client.ListTopicRequest{})
	var apiErr *client.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 10270, apiErr.ModuleCode)
}

// Restarted with another --secret-id, herald makes that pair the bootstrap
// admin key and revokes the previous one, saying so in its log. Before,
// the old pair kept working.
func TestRestartWithNewBootstrapKeyRevokesTheOld(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := start(t, dir, nil)
	_, err := n.stop()
	require.NoError(t, err)

	const newID, newKey = "AKIDrotatedBootstrap", "rotatedSecret"
	n = start(t, dir, nil, "--secret-id", newID, "--secret-key", newKey)
	ctx := context.Background()
	_, err = n.Client.ListTopic(ctx, client.ListTopicRequest{}) // the old pair
	var apiErr *client.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 4100, apiErr.Code)
	require.Equal(t, 10270, apiErr.ModuleCode)
	require.Contains(t, n.stderr.String(), "revoked the previous bootstrap key")
	require.Contains(t, n.stderr.String(), "secretId="+secretID)
	require.NotContains(t, n.stderr.String(), secretKey)

	c, err := client.New("http://"+n.addr, newID, newKey)
	require.NoError(t, err)
	keys, err := c.ListKeys(ctx, client.ListKeysRequest{})
	require.NoError(t, err)
	require.Len(t, keys.KeyList, 1)
	require.Equal(t, newID, keys.KeyList[0].SecretID)
	require.True(t, keys.KeyList[0].Admin)
}

// An account's keys work for the MNS API too, in the account's own
// namespace, and a revoked one is refused there as well.
func TestAccountKeysOnTheMNSAPI(t *testing.T) {
	t.Parallel()
	n := start(t, t.TempDir(), nil)
	ctx := context.Background()
	made, err := n.Client.CreateAccount(ctx, client.CreateAccountRequest{Name: "mns-team"})
	require.NoError(t, err)
	team := &mnsClient{t: t, base: "http://" + n.addr, id: made.SecretID, key: made.SecretKey}
	team.ok(http.StatusCreated, http.MethodPut, "/queues/theirs", `<?xml version="1.0" encoding="UTF-8"?><Queue xmlns="http://mns.aliyuncs.com/doc/v1/"></Queue>`)
	list, err := n.Client.ListQueue(ctx, client.ListQueueRequest{})
	require.NoError(t, err)
	require.Zero(t, list.TotalCount, "the bootstrap account does not see the team's queue")
	viaCMQ, err := client.New("http://"+n.addr, made.SecretID, made.SecretKey)
	require.NoError(t, err)
	list, err = viaCMQ.ListQueue(ctx, client.ListQueueRequest{})
	require.NoError(t, err)
	require.Equal(t, 1, list.TotalCount, "one object whichever API made it")

	_, err = n.Client.RevokeKey(ctx, client.RevokeKeyRequest{SecretID: made.SecretID})
	require.NoError(t, err)
	status, body := team.do(http.MethodGet, "/queues/theirs", "")
	require.Equal(t, http.StatusForbidden, status, body)
	require.Contains(t, body, "<Code>InvalidAccessKeyId</Code>")
}
