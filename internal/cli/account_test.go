package cli

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAccountAndKeyCommandsAreListed(t *testing.T) {
	t.Parallel()
	e, out, _ := env()
	require.Equal(t, 0, Main(context.Background(), []string{"help"}, e))
	require.Contains(t, out.String(), "herald account COMMAND ...")
	require.Contains(t, out.String(), "herald key COMMAND ...")
	for group, subs := range map[string][]string{"account": {"create", "delete", "list"}, "key": {"create", "list", "revoke"}} {
		e, _, errOut := env()
		require.Equal(t, 2, Main(context.Background(), []string{group}, e))
		require.Contains(t, errOut.String(), "usage: herald "+group+" COMMAND")
		for _, sub := range subs {
			require.Contains(t, errOut.String(), "  "+sub+" ")
		}
	}
	e, out, _ = env()
	require.Equal(t, 0, Main(context.Background(), []string{"key", "create", "-h"}, e))
	require.Contains(t, out.String(), "(action CreateKey)")
	require.Contains(t, out.String(), "--app-id N")
	require.Contains(t, out.String(), "--admin ")
	e, _, errOut := env()
	require.Equal(t, 2, Main(context.Background(), []string{"key", "revoke"}, e))
	require.Contains(t, errOut.String(), "missing argument SECRET_ID")
	e, _, errOut = env()
	require.Equal(t, 2, Main(context.Background(), []string{"account", "delete", "abc", "x"}, e))
	require.Contains(t, errOut.String(), `unexpected argument "x"`)
}
