package mns

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// concrete is a documented path with names for its braces.
func concrete(path string) string {
	return strings.NewReplacer("{queue}", "q1", "{topic}", "t1", "{subscription}", "s1").Replace(path)
}

// selects reports whether q has the query a route documents.
func selects(doc RouteDoc, q query) bool {
	name, value, hasValue := strings.Cut(doc.Query, "=")
	if !hasValue {
		return q.has(name)
	}
	return strings.EqualFold(q.get(name), value)
}

// documented is the route's documented operation for a method, a concrete
// path and a query: the one whose query the request has, else the one
// without a query.
func documented(method, path string, q query) (RouteDoc, bool) {
	var plain *RouteDoc
	for _, d := range Routes() {
		if d.Method != method || concrete(d.Path) != path {
			continue
		}
		if d.Query == "" {
			plain = &d
		} else if selects(d, q) {
			return d, true
		}
	}
	if plain != nil {
		return *plain, true
	}
	return RouteDoc{}, false
}

// Every documented route reaches its operation, and every method, path and
// query the router serves is documented as the operation it reaches.
func TestReferenceRoutesAreTheRouters(t *testing.T) {
	t.Parallel()
	s := &Server{}
	var paths []string
	for _, d := range Routes() {
		q, err := parseQuery(d.Query)
		require.NoError(t, err)
		h, _, name := s.route(d.Method, concrete(d.Path), q)
		require.NotNil(t, h, "%s %s?%s", d.Method, d.Path, d.Query)
		require.Equal(t, d.Action, name, "%s %s?%s", d.Method, d.Path, d.Query)
		paths = append(paths, concrete(d.Path))
	}
	paths = append(paths, "/", "/x", "/queues/q1/x", "/queues/q1/messages/m1", "/topics/t1/x", "/topics/t1/subscriptions/s1/x", "/topics/t1/messages/m1")
	methods := []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions}
	queries := []string{"", "metaoverride=true", "metaOverride=false", "peekonly=true", "peekOnly=false", "numOfMessages=2"}
	served := 0
	for _, path := range slices.Compact(slices.Sorted(slices.Values(paths))) {
		for _, m := range methods {
			for _, raw := range queries {
				q, err := parseQuery(raw)
				require.NoError(t, err)
				h, _, name := s.route(m, path, q)
				if h == nil {
					continue
				}
				served++
				d, ok := documented(m, path, q)
				require.True(t, ok, "%s %s?%s is served (%s) but not in the reference (internal/api/mns/reference.go): add it, then go generate ./...", m, path, raw, name)
				require.Equal(t, d.Action, name, "%s %s?%s", m, path, raw)
			}
		}
	}
	require.Greater(t, served, len(Routes()))
}

// Every MNS error code the package's source makes is in Errors, with the
// status it has there.
func TestReferenceHasEveryErrorCode(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	found := 0
	for _, p := range files {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		require.NoError(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			if id, isIdent := lit.Type.(*ast.Ident); !isIdent || id.Name != "Error" || len(lit.Elts) != 3 {
				return true
			}
			codeLit, ok1 := lit.Elts[1].(*ast.BasicLit)
			msgLit, ok2 := lit.Elts[2].(*ast.BasicLit)
			if !ok1 || !ok2 {
				return true // a copy of another, as with makes
			}
			code, err := strconv.Unquote(codeLit.Value)
			require.NoError(t, err)
			msg, err := strconv.Unquote(msgLit.Value)
			require.NoError(t, err)
			found++
			require.True(t, slices.ContainsFunc(Errors(), func(e *Error) bool { return e.Code == code && e.Message == msg }),
				"%s: %s (%q) is not in the reference's Errors (internal/api/mns/reference.go): add it, then go generate ./...", fset.Position(lit.Pos()), code, msg)
			return true
		})
	}
	require.Len(t, Errors(), found, "Errors lists an error the source does not make, or one twice")
}
