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
	require.Contains(t, out.String(), "herald account ...")
	require.Contains(t, out.String(), "herald key ...")
	for group, subs := range map[string][]string{"account": {"create", "delete", "list"}, "key": {"create", "list", "revoke"}} {
		e, _, errOut := env()
		require.Equal(t, 2, Main(context.Background(), []string{group}, e))
		for _, sub := range subs {
			require.Contains(t, errOut.String(), "  "+sub+" ")
		}
	}
	e, _, errOut := env()
	require.Equal(t, 0, Main(context.Background(), []string{"key", "create", "-h"}, e))
	require.Contains(t, errOut.String(), "(action CreateKey)")
	require.Contains(t, errOut.String(), "-app-id")
	require.Contains(t, errOut.String(), "-admin")
	e, _, errOut = env()
	require.Equal(t, 2, Main(context.Background(), []string{"key", "revoke"}, e))
	require.Contains(t, errOut.String(), "usage: herald key revoke SECRETID")
}
