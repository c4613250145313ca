package version

import (
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGet(t *testing.T) {
	t.Parallel()
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	checkout := func(modified string) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			return &debug.BuildInfo{Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "0123abc"}, {Key: "vcs.modified", Value: modified},
			}}, true
		}
	}
	tests := []struct {
		name              string
		version, revision string
		read              func() (*debug.BuildInfo, bool)
		want              string
	}{
		{"plain go build outside a checkout", "", "", none, "herald dev (commit unknown, " + runtime.Version() + ")"},
		{"go build in a clean checkout", "dev", "", checkout("false"), "herald dev (commit 0123abc, " + runtime.Version() + ")"},
		{"go build with local changes", "dev", "", checkout("true"), "herald dev (commit 0123abc-dirty, " + runtime.Version() + ")"},
		{"make release stamps both", "v1.2.3", "feedbeef", checkout("true"), "herald v1.2.3 (commit feedbeef, " + runtime.Version() + ")"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, getWith(tt.version, tt.revision, tt.read).String())
		})
	}
}
