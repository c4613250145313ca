package push

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRandomRequestID(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		id := randomRequestID()
		require.Regexp(t, regexp.MustCompile(`^[0-9A-F]{24}$`), id)
		require.False(t, seen[id], "repeated id %s", id)
		seen[id] = true
	}
}

func BenchmarkRandomRequestID(b *testing.B) {
	for b.Loop() {
		_ = randomRequestID()
	}
}
