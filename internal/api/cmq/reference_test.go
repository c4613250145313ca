package cmq_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/api/cmq"
)

// sourceFiles parses the package's non-test files.
func sourceFiles(t *testing.T) []*ast.File {
	t.Helper()
	paths, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	var files []*ast.File
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		require.NoError(t, err)
		files = append(files, f)
	}
	return files
}

// calls returns the calls of a function or method named name in files.
func calls(files []*ast.File, name string) []*ast.CallExpr {
	var out []*ast.CallExpr
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			c, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			switch fn := c.Fun.(type) {
			case *ast.Ident:
				if fn.Name == name {
					out = append(out, c)
				}
			case *ast.SelectorExpr:
				if fn.Sel.Name == name {
					out = append(out, c)
				}
			}
			return true
		})
	}
	return out
}

func referenceNames() []string {
	var names []string
	for _, a := range cmq.Reference() {
		names = append(names, a.Name)
	}
	return names
}

// The reference has an entry for every action the code registers, whatever
// the server's dependencies, and no other: both the s.add calls of the
// source and the table of a server with every service.
func TestReferenceListsEveryRegisteredAction(t *testing.T) {
	t.Parallel()
	var added []string
	for _, c := range calls(sourceFiles(t), "add") {
		if lit, ok := c.Args[0].(*ast.BasicLit); ok && len(c.Args) == 2 {
			name, err := strconv.Unquote(lit.Value)
			require.NoError(t, err)
			added = append(added, name)
		}
	}
	documented := referenceNames()
	require.Len(t, documented, len(slices.Compact(slices.Sorted(slices.Values(documented)))), "an action is documented twice")
	missing, extra := difference(added, documented), difference(documented, added)
	require.Empty(t, missing, "actions registered with s.add but not in the reference (internal/api/cmq/reference*.go): add an ActionDoc, then go generate ./...")
	require.Empty(t, extra, "reference entries of no registered action: remove them, then go generate ./...")

	served := cmq.Actions(newQueueAPI(t).h.(*cmq.Server))
	require.ElementsMatch(t, documented, served)

	// The storing actions (marked in the reference) are actions.
	for _, name := range cmq.Storing() {
		require.True(t, slices.ContainsFunc(documented, func(d string) bool { return strings.EqualFold(d, name) }), "storing names %s, which is no action", name)
	}
}

// difference is what a has that b has not.
func difference(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// Every CMQ code and module the package can answer is in the reference's
// error table: each errf and Error literal of the source.
func TestReferenceHasEveryErrorCode(t *testing.T) {
	t.Parallel()
	type pair struct{ code, module int }
	documented := map[pair]bool{}
	for _, e := range cmq.AllErrors() {
		documented[pair{e.Code, e.Module}] = true
	}
	intArg := func(e ast.Expr) (int, bool) {
		lit, ok := e.(*ast.BasicLit)
		if !ok || lit.Kind != token.INT {
			return 0, false
		}
		n, err := strconv.Atoi(lit.Value)
		return n, err == nil
	}
	found := 0
	for _, c := range calls(sourceFiles(t), "errf") {
		code, ok1 := intArg(c.Args[0])
		module, ok2 := intArg(c.Args[1])
		if !ok1 || !ok2 {
			continue
		}
		found++
		require.True(t, documented[pair{code, module}], "%d/%d is answered but not in the reference: add it to an action's Errors, then go generate ./...", code, module)
	}
	require.Greater(t, found, 50, "the source scan found too few errf calls to be looking at the package")
	// Every entry of the mapping table is some action's error or every
	// request's.
	var used []*cmq.Error
	for _, a := range cmq.Reference() {
		for _, e := range a.Errors {
			used = append(used, cmq.Wire(e))
		}
	}
	used = append(used, cmq.RequestErrors()...)
	for _, m := range cmq.Mapping() {
		require.True(t, slices.ContainsFunc(used, func(e *cmq.Error) bool { return *e == *m.Wire }), "no action lists %v (%v)", m.Target, m.Wire)
	}
}

// exampleForm is the example request of an action, without the params
// named in drop; each placeholder of the fixture becomes its value.
func exampleForm(a cmq.ActionDoc, fill *strings.Replacer, drop string) []string {
	var kv []string
	for _, p := range a.Params {
		if p.Name == drop || p.Example == "" {
			continue
		}
		v := fill.Replace(p.Example)
		k := p.Name
		if p.List > 0 {
			k += ".0"
		}
		kv = append(kv, k, v)
	}
	return kv
}

// fixture makes what the examples name: topics orders (with subscription
// audit) and drafts, queues jobs (with messages and a rewind window),
// jobs-dead and scratch, and account 2000000 with a key. It returns the
// values of the examples' placeholders: a receipt handle of jobs, the key.
func fixture(a *api) *strings.Replacer {
	a.ok("CreateTopic", "topicName", "orders")
	a.ok("Subscribe", "topicName", "orders", "subscriptionName", "audit", "protocol", "http", "endpoint", "https://example.com/hook")
	a.ok("CreateTopic", "topicName", "drafts")
	a.ok("CreateQueue", "queueName", "jobs-dead")
	a.ok("CreateQueue", "queueName", "jobs", "rewindSeconds", "3600")
	a.ok("CreateQueue", "queueName", "scratch")
	for _, b := range []string{"one", "two", "three", "four"} {
		a.ok("SendMessage", "queueName", "jobs", "msgBody", b)
	}
	a.ok("CreateAccount", "name", "team-b", "appId", "2000000")
	key := a.ok("CreateKey", "appId", "2000000")["secretId"].(string)
	handle := a.ok("ReceiveMessage", "queueName", "jobs", "pollingWaitSeconds", "0")["receiptHandle"].(string)
	return strings.NewReplacer("<receiptHandle>", handle, "<secretId>", key)
}

// Each action's example request succeeds; the action reads exactly the
// parameters the reference lists, with the documented ranges, list sizes
// and required ones; a required parameter left out is 4000/10390 naming it;
// and the response has exactly the documented fields.
func TestReferenceMatchesWhatActionsDo(t *testing.T) {
	t.Parallel()
	for _, doc := range cmq.Reference() {
		t.Run(doc.Name, func(t *testing.T) {
			t.Parallel()
			a := newQueueAPI(t)
			fill := fixture(a)
			var mu sync.Mutex
			var reads []cmq.ParamRead
			cmq.RecordParams(a.h.(*cmq.Server), func(action string, r cmq.ParamRead) {
				if action == doc.Name {
					mu.Lock()
					reads = append(reads, r)
					mu.Unlock()
				}
			})
			for _, p := range doc.Params {
				if !p.Required {
					continue
				}
				out := a.fails(4000, 10390, doc.Name, exampleForm(doc, fill, p.Name)...)
				require.Equal(t, "(10390)lacked of required parameter "+p.Name, out["message"])
			}
			mu.Lock()
			reads = nil
			mu.Unlock()
			out := a.ok(doc.Name, exampleForm(doc, fill, "")...)

			mu.Lock()
			defer mu.Unlock()
			requireReads(t, doc, reads)
			requireFields(t, doc, out)
		})
	}
}

func requireReads(t *testing.T, doc cmq.ActionDoc, reads []cmq.ParamRead) {
	t.Helper()
	read := map[string]cmq.ParamRead{}
	for _, r := range reads {
		m := read[r.Name]
		m.Name = r.Name
		m.Required = m.Required || r.Required
		m.Range = cmp(m.Range, r.Range)
		m.List = max(m.List, r.List)
		read[r.Name] = m
	}
	for _, p := range doc.Params {
		r, ok := read[p.Name]
		require.True(t, ok, "%s: the reference documents %s, which the action does not read", doc.Name, p.Name)
		if r.Required {
			require.True(t, p.Required, "%s: %s is required but documented as optional", doc.Name, p.Name)
		}
		if r.Range != nil {
			require.Equal(t, r.Range, p.Range, "%s: %s's documented range differs from the handler's", doc.Name, p.Name)
		}
		require.Equal(t, r.List, p.List, "%s: %s's documented list size differs from the handler's", doc.Name, p.Name)
		delete(read, p.Name)
	}
	var undocumented []string
	for name := range read {
		undocumented = append(undocumented, name)
	}
	sort.Strings(undocumented)
	require.Empty(t, undocumented, "%s reads parameters the reference does not document", doc.Name)
}

func cmp(a, b *cmq.Span) *cmq.Span {
	if a != nil {
		return a
	}
	return b
}

func requireFields(t *testing.T, doc cmq.ActionDoc, out map[string]any) {
	t.Helper()
	for _, k := range []string{"code", "message", "requestId", "clientRequestId"} {
		delete(out, k)
	}
	top := map[string]cmq.FieldDoc{}
	items := map[string][]string{}
	for _, f := range doc.Fields {
		if list, field, ok := strings.Cut(f.Name, "[]."); ok {
			items[list] = append(items[list], field)
			continue
		}
		top[f.Name] = f
		if f.When == "" {
			require.Contains(t, out, f.Name, "%s: documented field %s is not in the response", doc.Name, f.Name)
		}
	}
	for k := range out {
		_, ok := top[k]
		require.True(t, ok, "%s: the response has %s, which the reference does not document", doc.Name, k)
	}
	for list, fields := range items {
		if top[list].When != "" && out[list] == nil {
			continue
		}
		arr, ok := out[list].([]any)
		require.True(t, ok && len(arr) > 0, "%s: the example should return some %s to check their fields", doc.Name, list)
		item, ok := arr[0].(map[string]any)
		require.True(t, ok, "%s: %s holds objects", doc.Name, list)
		var got []string
		for k := range item {
			got = append(got, k)
		}
		require.ElementsMatch(t, fields, got, "%s: the fields of %s differ from the reference", doc.Name, list)
	}
}
