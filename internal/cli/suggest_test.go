package cli

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSuggest(t *testing.T) {
	t.Parallel()
	queue := sortedKeys(clientGroup["queue"])
	for _, tc := range []struct {
		word       string
		candidates []string
		want       []string
	}{
		{"craete", sortedKeys(clientGroup["topic"]), []string{"create"}},
		{"topik", topCommands(), []string{"topic"}},
		{"subscriptoin", topCommands(), []string{"subscription"}},
		{"del", queue, []string{"delete", "delete-message"}},
		{"delete-mesage", queue, []string{"delete-message"}},
		{"recieve", queue, []string{"receive"}}, //nolint:misspell // the typo is the input
		{"gte", queue, []string{"get"}},
		{"sed", queue, []string{"send", "set"}},
		{"xyz", queue, nil},
		{"", queue, nil},
	} {
		got := suggest(tc.word, tc.candidates)
		if tc.want == nil {
			require.Empty(t, got, tc.word)
			continue
		}
		require.Equal(t, tc.want, got, tc.word)
	}
}

func TestDistance(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"create", "create", 0},
		{"craete", "create", 1},
		{"topik", "topic", 1},
		{"", "abc", 3},
		{"abc", "", 3},
		{"kitten", "sitting", 3},
		{"ca", "abc", 3},
	} {
		require.Equal(t, tc.want, distance(tc.a, tc.b), "%s %s", tc.a, tc.b)
		require.Equal(t, tc.want, distance(tc.b, tc.a), "%s %s", tc.b, tc.a)
	}
}

func TestDidYouMean(t *testing.T) {
	t.Parallel()
	require.Equal(t, "did you mean \"create\"?\n", didYouMean("craete", []string{"create", "delete"}))
	require.Equal(t, "did you mean one of \"delete\", \"delete-message\"?\n", didYouMean("del", []string{"delete", "delete-message", "get"}))
	require.Empty(t, didYouMean("zzz", []string{"create"}))
}
