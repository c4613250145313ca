// Package version says which herald this is: the release version and commit
// stamped at build time (make release), or "dev" and the commit Go recorded
// from the checkout.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version and Revision are set with -ldflags "-X" by `make release`.
var (
	// Version is the release, such as "v0.3.0". Defaults to "dev".
	Version = "dev"
	// Revision is the commit the binary was built from. Defaults to the
	// vcs.revision Go stamps into binaries built in a checkout, else "unknown".
	Revision = ""
)

// Info is the version, commit and Go version of this binary.
type Info struct {
	Version, Revision, GoVersion string
}

// Get returns this binary's Info.
func Get() Info {
	return getWith(Version, Revision, debug.ReadBuildInfo)
}

func getWith(version, revision string, read func() (*debug.BuildInfo, bool)) Info {
	i := Info{Version: version, Revision: revision, GoVersion: runtime.Version()}
	if i.Version == "" {
		i.Version = "dev"
	}
	if i.Revision == "" {
		i.Revision = "unknown"
		if bi, ok := read(); ok {
			dirty := false
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					i.Revision = s.Value
				case "vcs.modified":
					dirty = s.Value == "true"
				}
			}
			if dirty && i.Revision != "unknown" {
				i.Revision += "-dirty"
			}
		}
	}
	return i
}

// String is the line `herald version` prints.
func (i Info) String() string {
	return fmt.Sprintf("herald %s (commit %s, %s)", i.Version, i.Revision, i.GoVersion)
}
