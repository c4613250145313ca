package cli

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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
	require.Contains(t, errOut.String(), "usage: herald publish TOPICNAME MSGBODY")
	e, _, errOut = env()
	require.Equal(t, 2, Main(context.Background(), []string{"serve", "--fsync", "sometimes"}, e))
	require.Contains(t, errOut.String(), "--fsync")
}

func TestPrintResultDropsTheEnvelope(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.Equal(t, 0, printResult(&out, []byte(`{"code":0,"message":"","requestId":"1","msgId":"AB"}`)))
	require.Equal(t, "{\n  \"msgId\": \"AB\",\n  \"requestId\": \"1\"\n}\n", out.String())
	require.False(t, strings.Contains(out.String(), "code"))
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
