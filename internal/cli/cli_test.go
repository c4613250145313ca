package cli

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/client"
)

func TestInterleaveLetsFlagsFollowArguments(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.String("tag", "", "")
	fs.Bool("v", false, "")
	got := interleave(fs, []string{"topic", "--tag", "a", "body", "-v", "--tag=b", "--", "-not-a-flag"})
	require.Equal(t, []string{"--tag", "a", "-v", "--tag=b", "--", "topic", "body", "-not-a-flag"}, got)
}

func env() (Env, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}, &out, &errOut
}

func TestUsageAndUnknownCommands(t *testing.T) {
	t.Parallel()
	e, out, errOut := env()
	require.Equal(t, 2, Main(context.Background(), nil, e))
	require.Contains(t, errOut.String(), "herald serve [flags]")
	require.Equal(t, 0, Main(context.Background(), []string{"help"}, e))
	require.Contains(t, out.String(), "herald publish TOPIC BODY")
	require.Equal(t, 2, Main(context.Background(), []string{"bogus"}, e))
	require.Contains(t, errOut.String(), `unknown command "bogus"`)

	e, _, errOut = env()
	require.Equal(t, 2, Main(context.Background(), []string{"topic"}, e))
	for _, sub := range []string{"create", "delete", "get", "list", "set"} {
		require.Contains(t, errOut.String(), "  "+sub+" ")
	}
	e, _, errOut = env()
	require.Equal(t, 2, Main(context.Background(), []string{"publish", "only-topic"}, e))
	require.Contains(t, errOut.String(), "herald publish: missing argument BODY\nusage: herald publish TOPIC BODY [flags]\n")
	e, _, errOut = env()
	require.Equal(t, 2, Main(context.Background(), []string{"serve", "--fsync", "sometimes"}, e))
	require.Contains(t, errOut.String(), "--fsync")
}

func TestPrintJSONDropsOnlyTheEnvelope(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, printJSON(&out, []byte(`{"code":0,"message":"","requestId":"1","protocol":"http","protocal":"http","createTime":1700000000}`)))
	require.Equal(t, "{\n  \"requestId\": \"1\",\n  \"protocol\": \"http\",\n  \"protocal\": \"http\",\n  \"createTime\": 1700000000\n}\n", out.String())
}

// Help names the variable a secret comes from, never the secret.
func TestHelpNeverPrintsTheSecretKey(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"publish", "-h"}, {"queue", "send", "-h"}, {"serve", "-h"}} {
		e, out, errOut := env()
		e.Getenv = func(name string) string {
			if name == "HERALD_SECRET_KEY" {
				return "the-key-itself"
			}
			return ""
		}
		require.Equal(t, 0, Main(context.Background(), args, e))
		help := out.String() + errOut.String()
		require.NotContains(t, help, "the-key-itself")
		require.Contains(t, help, "(default from $HERALD_SECRET_KEY, set)", "%v", args)
	}
	e, out, errOut := env()
	require.Equal(t, 0, Main(context.Background(), []string{"publish", "-h"}, e))
	require.Contains(t, out.String()+errOut.String(), "(default from $HERALD_SECRET_KEY, not set)")
}

// Mistakes in a command line are named, with what was probably meant, and
// exit 2 before anything is sent.
func TestCommandLineMistakes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"topik"}, "herald: unknown command \"topik\"\ndid you mean \"topic\"?\n(herald -h lists the commands)\n"},
		{[]string{"topic", "craete", "x"}, "herald topic: unknown command \"craete\"\ndid you mean \"create\"?\n(herald topic -h lists the commands)\n"},
		{[]string{"topic", "create"}, "herald topic create: missing argument TOPIC\nusage: herald topic create TOPIC [flags]\n(herald topic create -h lists the flags)\n"},
		{[]string{"subscription", "get", "t"}, "herald subscription get: missing argument SUBSCRIPTION\nusage: herald subscription get TOPIC SUBSCRIPTION [flags]\n(herald subscription get -h lists the flags)\n"},
		{[]string{"queue", "receive", "q", "--wait", "abc"}, "herald queue receive: invalid value \"abc\" for flag -wait: not an integer\nusage: herald queue receive QUEUE [flags]\n(herald queue receive -h lists the flags)\n"},
		{[]string{"subscription", "set", "t", "s", "--retire-webhook-secrets=maybe"}, "herald subscription set: invalid boolean value \"maybe\" for -retire-webhook-secrets: parse error\n"},
		{[]string{"publish", "t", "b", "--tga", "x"}, "herald publish: unknown flag -tga\ndid you mean \"--tag\"?\nusage: herald publish TOPIC BODY [flags]\n"},
		{[]string{"topic", "list", "-o", "yaml"}, "herald topic list: invalid value \"yaml\" for flag -o: want table or json\n"},
		{[]string{"queue", "delete", "q", "handle"}, "herald queue delete: unexpected argument \"handle\"\nherald queue delete deletes a queue; a received message is deleted with herald queue delete-message QUEUE RECEIPT_HANDLE\n"},
		{[]string{"completion", "fsih"}, "herald completion: unknown shell \"fsih\"\ndid you mean \"fish\"?\n"},
	} {
		e, out, errOut := env()
		require.Equal(t, 2, Main(context.Background(), tc.args, e), "%v", tc.args)
		require.Empty(t, out.String())
		require.True(t, strings.HasPrefix(errOut.String(), tc.want), "%v:\n%s", tc.args, errOut.String())
	}
}

func TestQueueRemoveIsADeprecatedAliasOfDelete(t *testing.T) {
	t.Parallel()
	e, _, errOut := env()
	require.Equal(t, 2, Main(context.Background(), []string{"queue", "remove"}, e))
	require.Equal(t, "herald queue remove is deprecated: use herald queue delete\n"+
		"herald queue delete: missing argument QUEUE\n", strings.SplitAfterN(errOut.String(), "\n", 3)[0]+strings.SplitAfterN(errOut.String(), "\n", 3)[1])
	e, out, _ := env()
	require.Equal(t, 0, Main(context.Background(), []string{"queue", "-h"}, e))
	require.NotContains(t, out.String(), "remove")
}

// Every client command's help names the variables it reads and whether
// each is set.
func TestHelpNamesTheEnvironment(t *testing.T) {
	t.Parallel()
	e, out, _ := env()
	e.Getenv = func(name string) string {
		if name == "HERALD_SERVER" {
			return "http://user:pw@127.0.0.1:1"
		}
		return ""
	}
	require.Equal(t, 0, Main(context.Background(), []string{"queue", "receive", "--help"}, e))
	require.Equal(t, `usage: herald queue receive QUEUE [flags]
receive a message (action ReceiveMessage)

flags:
  --wait N             long-poll seconds (0-30)
  -o, --output FORMAT  table (default) or json: the response's fields as the server sent them
  --server URL         herald API URL (default from $HERALD_SERVER, set; else http://127.0.0.1:8080)
  --secret-id ID       API SecretId (default from $HERALD_SECRET_ID, not set)
  --secret-key KEY     API SecretKey (default from $HERALD_SECRET_KEY, not set)
`, out.String())
}

// The top-level help names publish's arguments and flags as publish -h does.
func TestPublishHelpAgreesWithTopLevelHelp(t *testing.T) {
	t.Parallel()
	e, top, _ := env()
	require.Equal(t, 0, Main(context.Background(), []string{"-h"}, e))
	e, pub, _ := env()
	require.Equal(t, 0, Main(context.Background(), []string{"publish", "-h"}, e))
	require.Contains(t, top.String(), "  herald publish TOPIC BODY [flags]  publish a message (--tag, --routing-key; herald publish -h)\n")
	require.True(t, strings.HasPrefix(pub.String(), "usage: herald publish TOPIC BODY [flags]\npublish a message"), pub.String())
	for _, f := range []string{"--tag VALUE", "--routing-key VALUE"} {
		require.Contains(t, pub.String(), "  "+f+" ")
	}
}

func TestCompletionScriptsNameEveryCommand(t *testing.T) {
	t.Parallel()
	for _, shell := range shells {
		e, out, _ := env()
		require.Equal(t, 0, Main(context.Background(), []string{"completion", shell}, e))
		for _, n := range commandTree() {
			require.Contains(t, out.String(), n.name, shell)
			for _, c := range n.children {
				require.Contains(t, out.String(), c.name, shell)
			}
		}
		for _, f := range []string{"max-msg-size", "routing-key", "data-dir", "secret-key", "output"} {
			require.Contains(t, out.String(), f, shell)
		}
	}
}

func TestServeFlagsAreReadFromServeHelp(t *testing.T) {
	t.Parallel()
	flags := serveFlags()
	require.Greater(t, len(flags), 20)
	byName := map[string]compFlag{}
	for _, f := range flags {
		byName[f.name] = f
	}
	require.Equal(t, compFlag{name: "data-dir", about: `embedded engine storage (default "./data")`, takesValue: true}, byName["data-dir"])
	require.Equal(t, compFlag{name: "delivery", about: "deliver topic messages from this process (false: an API-only node) (default true)"}, byName["delivery"])
}

// Flags become the action's parameters: lists numbered, a true bool as 1,
// an int as given, and flags not given are not sent.
func TestParamsFromTypedFlags(t *testing.T) {
	t.Parallel()
	inv := newInvocation("subscription set", clientGroup["subscription"]["set"])
	require.NoError(t, inv.fs.Parse(interleave(inv.fs, []string{"t", "--tag", "a", "s", "--retire-webhook-secrets", "--tag=b", "-o", "json"})))
	require.Equal(t, []client.Param{
		{Key: "topicName", Value: "t"}, {Key: "subscriptionName", Value: "s"},
		{Key: "filterTag.1", Value: "a"}, {Key: "filterTag.2", Value: "b"},
		{Key: "retireWebhookSecrets", Value: "1"},
	}, inv.params())
	require.Equal(t, outputJSON, inv.output)

	inv = newInvocation("queue set", clientGroup["queue"]["set"])
	require.NoError(t, inv.fs.Parse(interleave(inv.fs, []string{"q", "--visibility-timeout", "0", "--max-receive-count=-1"})))
	require.Equal(t, []client.Param{
		{Key: "queueName", Value: "q"}, {Key: "visibilityTimeout", Value: "0"}, {Key: "maxReceiveCount", Value: "-1"},
	}, inv.params())
}
