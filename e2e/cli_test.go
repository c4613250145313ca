package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// cliResult is what a user of one herald command sees.
type cliResult struct {
	stdout, stderr string
	code           int
}

// herald runs one client command of the real binary against n (nil: a
// server that does not exist), with times shown in zone tz.
func herald(t *testing.T, n *node, tz string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), exitsBy)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	server := "http://127.0.0.1:1"
	if n != nil {
		server = "http://" + n.addr
	}
	cmd.Env = append(os.Environ(), "HERALD_SERVER="+server, "HERALD_SECRET_ID="+secretID, "HERALD_SECRET_KEY="+secretKey, "TZ="+tz)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "herald %v hung", args)
	var exit *exec.ExitError
	if err != nil {
		require.True(t, errors.As(err, &exit), "herald %v: %v", args, err)
	}
	return cliResult{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
}

// jsonOf runs a command with -o json and decodes what it prints.
func jsonOf(t *testing.T, n *node, args ...string) map[string]any {
	t.Helper()
	r := herald(t, n, "UTC", append(args, "-o", "json")...)
	require.Equal(t, 0, r.code, "%v: %s", args, r.stderr)
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), r.stdout)
	return out
}

// A mistyped command line is named and answered before anything is sent
// (no server runs here): exit 2, the word at fault, what was meant.
func TestCLIMistakes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"topik", "list"}, "herald: unknown command \"topik\"\ndid you mean \"topic\"?\n"},
		{[]string{"topic", "craete", "orders"}, "herald topic: unknown command \"craete\"\ndid you mean \"create\"?\n"},
		{[]string{"topic", "create"}, "herald topic create: missing argument TOPIC\nusage: herald topic create TOPIC [flags]\n"},
		{[]string{"publish", "orders"}, "herald publish: missing argument BODY\nusage: herald publish TOPIC BODY [flags]\n"},
		{[]string{"queue", "receive", "jobs", "--wait", "abc"}, "herald queue receive: invalid value \"abc\" for flag -wait: not an integer\n"},
		{[]string{"topic", "list", "--limit=ten"}, "herald topic list: invalid value \"ten\" for flag -limit: not an integer\n"},
		{[]string{"queue", "delete", "jobs", "AQAB"}, "herald queue delete: unexpected argument \"AQAB\"\n"},
	} {
		r := herald(t, nil, "UTC", tc.args...)
		require.Equal(t, 2, r.code, "%v", tc.args)
		require.Empty(t, r.stdout, "%v", tc.args)
		require.True(t, strings.HasPrefix(r.stderr, tc.want), "%v:\n%s", tc.args, r.stderr)
	}
}

// Tables show a known object exactly, times as RFC 3339 in the local zone;
// -o json is the server's fields, parseable, times as numbers.
func TestCLITablesAndJSON(t *testing.T) {
	t.Parallel()
	tz, loc := "Asia/Tokyo", time.FixedZone("", 0)
	if l, err := time.LoadLocation(tz); err == nil {
		loc = l
	} else {
		tz = "UTC"
	}
	n := start(t, t.TempDir(), nil)
	created := jsonOf(t, n, "topic", "create", "orders", "--max-msg-size", "2048")
	topicID, _ := created["topicId"].(string)
	require.True(t, strings.HasPrefix(topicID, "topic-"), "%v", created)
	r := herald(t, n, tz, "topic", "list")
	require.Equal(t, 0, r.code, r.stderr)
	pad := strings.Repeat(" ", len(topicID)+2-len("TOPIC ID"))
	require.Equal(t, "TOPIC ID"+pad+"TOPIC NAME\n"+topicID+"  orders\n", r.stdout)

	sub := jsonOf(t, n, "subscription", "create", "orders", "billing", "--endpoint", "http://example.com/x", "--tag", "a", "--tag", "b")
	attrs := jsonOf(t, n, "subscription", "get", "orders", "billing")
	require.Equal(t, []any{"a", "b"}, attrs["filterTags"], "json keeps both spellings")
	require.Equal(t, "http", attrs["protocal"])
	created2 := time.Unix(int64(attrs["createTime"].(float64)), 0).In(loc).Format(time.RFC3339)
	modified := time.Unix(int64(attrs["lastModifyTime"].(float64)), 0).In(loc).Format(time.RFC3339)
	r = herald(t, n, tz, "subscription", "get", "orders", "billing")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, ""+
		"topicOwner:              1000000\n"+
		"msgCount:                0\n"+
		"protocol:                http\n"+
		"endpoint:                http://example.com/x\n"+
		"notifyStrategy:          EXPONENTIAL_DECAY_RETRY\n"+
		"notifyContentFormat:     JSON\n"+
		"createTime:              "+created2+"\n"+
		"lastModifyTime:          "+modified+"\n"+
		"bindingKey:              -\n"+
		"filterTag:               a,b\n"+
		"subscriptionId:          "+sub["subscriptionId"].(string)+"\n"+
		"subscriptionName:        billing\n"+
		"topicName:               orders\n"+
		"dialect:                 CMQ\n"+
		"webhookSecretCount:      0\n"+
		"givenUpMsgCount:         0\n"+
		"signatureRejectedCount:  0\n", r.stdout)

	r = herald(t, n, tz, "publish", "orders", "hello", "--tag", "b", "-o", "json")
	require.Equal(t, 0, r.code, r.stderr)
	var published struct {
		MsgID     string `json:"msgId"`
		RequestID string `json:"requestId"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &published))
	require.Regexp(t, `^[0-9A-F]{32}$`, published.MsgID)
	require.NotEmpty(t, published.RequestID)
}

// queue delete deletes a queue as topic delete deletes a topic; a received
// message goes with queue delete-message; an empty queue is exit 0.
func TestCLIQueueDeleteAndEmptyReceive(t *testing.T) {
	t.Parallel()
	n := start(t, t.TempDir(), nil)
	jsonOf(t, n, "queue", "create", "jobs")
	jsonOf(t, n, "queue", "send", "jobs", "hello")
	msg := jsonOf(t, n, "queue", "receive", "jobs")
	handle, _ := msg["receiptHandle"].(string)
	require.Equal(t, "hello", msg["msgBody"])
	require.NotEmpty(t, handle)

	// The old spelling of a message delete is refused, and the queue stays.
	r := herald(t, n, "UTC", "queue", "delete", "jobs", handle)
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "herald queue delete-message QUEUE RECEIPT_HANDLE")
	require.Equal(t, "jobs", jsonOf(t, n, "queue", "get", "jobs")["queueName"])
	require.EqualValues(t, 1, jsonOf(t, n, "queue", "get", "jobs")["inactiveMsgNum"])

	r = herald(t, n, "UTC", "queue", "delete-message", "jobs", handle)
	require.Equal(t, 0, r.code, r.stderr)
	require.Empty(t, r.stdout)
	require.EqualValues(t, 0, jsonOf(t, n, "queue", "get", "jobs")["inactiveMsgNum"])

	r = herald(t, n, "UTC", "queue", "receive", "jobs", "--wait", "0")
	require.Equal(t, cliResult{"no message\n", "", 0}, r)
	r = herald(t, n, "UTC", "queue", "receive", "jobs", "--wait", "0", "-o", "json")
	require.Equal(t, cliResult{"null\n", "", 0}, r)

	r = herald(t, n, "UTC", "queue", "delete", "jobs")
	require.Equal(t, cliResult{"", "", 0}, r)
	r = herald(t, n, "UTC", "queue", "get", "jobs")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "herald queue get: cmq: code 4440 (10100)")

	// queue remove, the old name of queue delete, still works for now.
	jsonOf(t, n, "queue", "create", "old")
	r = herald(t, n, "UTC", "queue", "remove", "old")
	require.Equal(t, cliResult{"", "herald queue remove is deprecated: use herald queue delete\n", 0}, r)
	require.Equal(t, 1, herald(t, n, "UTC", "queue", "get", "old").code)
}

// The completion scripts are valid in their shell and complete groups,
// commands, flags and flag values.
func TestCLICompletion(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	script := func(shell string) string {
		r := herald(t, nil, "UTC", "completion", shell)
		require.Equal(t, 0, r.code, r.stderr)
		for _, w := range []string{"serve", "topic", "subscription", "publish", "queue", "completion", "version", "delete-message", "max-msg-size", "data-dir"} {
			require.Contains(t, r.stdout, w, shell)
		}
		path := filepath.Join(dir, "herald."+shell)
		require.NoError(t, os.WriteFile(path, []byte(r.stdout), 0o600))
		return path
	}
	run := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		require.NoError(t, err, "%s %v: %s", name, args, out)
		return string(out)
	}

	bash := script("bash")
	run("bash", "-n", bash)
	complete := func(cword int, words ...string) string {
		return fmt.Sprintf(`COMP_WORDS=(%s); COMP_CWORD=%d; _herald; echo "${COMPREPLY[*]}"`, strings.Join(words, " "), cword)
	}
	got := run("bash", "-c", "source "+bash+"\n"+strings.Join([]string{
		complete(1, "herald", "to"),
		complete(2, "herald", "topic", "cr"),
		complete(2, "herald", "queue", "del"),
		complete(4, "herald", "queue", "receive", "jobs", "--w"),
		complete(4, "herald", "topic", "list", "-o", "''"),
		complete(2, "herald", "completion", "''"),
		complete(2, "herald", "serve", "--data"),
	}, "\n"))
	require.Equal(t, "topic\ncreate\ndelete delete-message\n--wait\ntable json\nbash zsh fish\n--data-dir\n", got)

	zsh := script("zsh")
	if _, err := exec.LookPath("zsh"); err == nil {
		run("zsh", "-n", zsh)
		// Outside a completion the builtins are stubs that print what
		// _herald offers.
		got := run("zsh", "-f", "-c", `
_describe() { shift 3; print -r -- "${(P)1}" }
compadd() { shift; print -r -- "$*" }
compdef() { }
source `+zsh+`
c() { words=("$@"); CURRENT=$#; PREFIX=${words[-1]}; _herald }
c herald ''
c herald queue ''
c herald publish t b -
c herald topic list -o ''
`)
		require.Equal(t, ""+
			"serve:run the server topic:manage topics subscription:manage subscriptions publish:publish a message queue:manage queues account:manage accounts key:manage API keys completion:print a shell completion script version:print the version, commit and Go version\n"+
			"create:create a queue delete:delete a queue and its messages delete-message:delete a received message get:show a queue's attributes list:list queues receive:receive a message send:send a message set:change a queue's attributes\n"+
			"-o:output format --output:output format --routing-key:routing key --secret-id:API SecretId --secret-key:API SecretKey --server:herald API URL --tag:message tag (repeatable)\n"+
			"table json\n", got)
	}

	fish := script("fish")
	if _, err := exec.LookPath("fish"); err == nil {
		run("fish", "-n", fish)
		got := run("fish", "-c", "source "+fish+`
complete -C 'herald topic cr'
complete -C 'herald queue receive jobs --w'
complete -C 'herald completion '`)
		require.Equal(t, "create\tcreate a topic\n--wait\tlong-poll seconds (0-30)\nbash\nfish\nzsh\n", got)
	}
}
