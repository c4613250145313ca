package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/api/cmq"
	"github.com/herald-mq/herald/internal/api/mns"
)

// The committed docs/api.md is what the code's references render.
func TestAPIDocIsUpToDate(t *testing.T) {
	t.Parallel()
	root, err := moduleRoot()
	require.NoError(t, err)
	committed, err := os.ReadFile(filepath.Join(root, docPath))
	require.NoError(t, err, "docs/api.md is missing: run go generate ./...")
	if !bytes.Equal(committed, render()) {
		t.Fatal("docs/api.md is out of date: run go generate ./...")
	}
}

// The document names every action, parameter, field and error of the
// references, and every MNS route.
func TestAPIDocNamesEverything(t *testing.T) {
	t.Parallel()
	md := string(render())
	has := func(s string) { t.Helper(); require.True(t, strings.Contains(md, s), "docs/api.md lacks %q", s) }
	for _, a := range cmq.Reference() {
		has("#### " + a.Name + "\n")
		for _, p := range a.Params {
			has("`" + p.Name)
		}
		for _, f := range a.Fields {
			has("`" + f.Name + "`")
		}
	}
	for _, e := range cmq.AllErrors() {
		has(fmt.Sprintf("| %d | %d | %s", e.Code, e.Module, e.Text))
	}
	for _, r := range mns.Routes() {
		has("| " + r.Method + " | `" + r.Path + "` |")
	}
	for _, e := range mns.Errors() {
		has(fmt.Sprintf("| %d | `%s` | %s |", e.Status, e.Code, e.Message))
	}
	has("`webhookSecret` **herald**")
	has("`deadLetterQueueName` **herald**")
	has("[QueryQueueRoute (herald)](#queryqueueroute)")
	require.False(t, strings.Contains(md, "\n\n\n"), "no double blank lines")
}

// run writes the file the test compares.
func TestRunWrites(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "docs", "api.md")
	require.NoError(t, run(out))
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, render(), got)
}
