package server

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The Grafana dashboard in deploy/ is valid JSON and every herald metric its
// queries use is one the code defines, so a renamed metric cannot leave an
// empty panel behind.
func TestGrafanaDashboardUsesDefinedMetrics(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../deploy/grafana-dashboard.json")
	require.NoError(t, err)
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(raw, &dash))
	require.NotEmpty(t, dash.Panels)

	defined := map[string]bool{}
	named := regexp.MustCompile(`(?:Name:\s*|NewDesc\(|gauge\(|counter\()"(herald_[a-z_]+)"`)
	require.NoError(t, filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		for _, m := range named.FindAllStringSubmatch(string(src), -1) {
			defined[m[1]] = true
		}
		return err
	}))
	used := regexp.MustCompile(`herald_[a-z_]+`)
	for _, p := range dash.Panels {
		require.NotEmpty(t, p.Targets, p.Title)
		for _, tg := range p.Targets {
			for _, m := range used.FindAllString(tg.Expr, -1) {
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_count"), "_sum")
				require.True(t, defined[base], "panel %q uses %s, which no code defines", p.Title, m)
			}
		}
	}
}
