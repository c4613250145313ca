package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// `herald version` and `herald --version` print the stamped version, the
// commit and the Go version.
func TestVersion(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"version", "--version"} {
		out, err := exec.Command(binary, arg).CombinedOutput()
		require.NoError(t, err, string(out))
		line := strings.TrimSpace(string(out))
		require.True(t, strings.HasPrefix(line, "herald "+stampedVersion+" (commit "), line)
		require.True(t, strings.HasSuffix(line, ", "+runtime.Version()+")"), line)
	}
}

// herald_build_info carries the same version; --log-format json writes one
// JSON object a line.
func TestBuildInfoAndJSONLogs(t *testing.T) {
	t.Parallel()
	n := start(t, t.TempDir(), nil, "--log-format", "json")
	resp, err := http.Get("http://" + n.addr + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var info string
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, "herald_build_info{") {
			info = l
		}
	}
	require.Contains(t, info, `version="`+stampedVersion+`"`)
	require.Contains(t, info, `goversion="`+runtime.Version()+`"`)
	require.True(t, strings.HasSuffix(info, "} 1"), info)

	_, err = n.stop()
	require.NoError(t, err)
	sc := bufio.NewScanner(strings.NewReader(n.stderr.String()))
	lines := 0
	for sc.Scan() {
		var rec map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &rec), "not JSON: %s", sc.Text())
		require.Contains(t, rec, "level")
		require.Contains(t, rec, "msg")
		lines++
	}
	require.Positive(t, lines)
	require.Contains(t, n.stderr.String(), `"msg":"herald starting","version":"`+stampedVersion+`"`)
}

func TestBadLogFormatRefused(t *testing.T) {
	t.Parallel()
	out, err := runServe(t, "--log-format", "xml")
	require.Error(t, err)
	require.Contains(t, out, `--log-format "xml": want text or json`)
}
