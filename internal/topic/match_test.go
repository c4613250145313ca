package topic_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/topic"
)

func TestRouteMatches(t *testing.T) {
	t.Parallel()
	cases := []struct {
		binding, routing string
		want             bool
	}{
		// The documented examples (wire.md §1.8, §5).
		{"1.*.0", "1.x.0", true},
		{"1.#.0", "1.2.3.4.4.2.2.0", true},
		{"1.#.0", "1.0", true},
		{"#", "", true},
		{"*", "", false},
		// RabbitMQ topic-exchange semantics around them.
		{"1.*.0", "1.0", false},
		{"1.*.0", "1.x.y.0", false},
		{"#", "a.b.c", true},
		{"a.#", "a", true},
		{"a.#", "b", false},
		{"#.a", "a", true},
		{"#.a", "x.y.a", true},
		{"#.a", "x.y.b", false},
		{"a.#.#.b", "a.b", true},
		{"a.#.b.#", "a.x.b", true},
		{"*.*", "a.b", true},
		{"*.*", "a", false},
		{"a.b", "a.b", true},
		{"a.b", "a.b.c", false},
		{"a.b.c", "a.b", false},
		{"", "", true},
		{"", "a", false},
		{"a..b", "a..b", true},
		{"*.#", "", false},
		{"#.*", "a", true},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, topic.RouteMatches(tc.binding, tc.routing), "%q ~ %q", tc.binding, tc.routing)
	}
}

func TestMatchesTags(t *testing.T) {
	t.Parallel()
	none := &topic.Subscription{}
	ab := &topic.Subscription{FilterTags: []string{"a", "b"}}
	cases := []struct {
		name string
		sub  *topic.Subscription
		tags []string
		want bool
	}{
		{"no filter, no tags", none, nil, true},
		{"no filter, tags", none, []string{"x"}, true},
		{"filter, no tags", ab, nil, false},
		{"filter, overlap", ab, []string{"x", "b"}, true},
		{"filter, disjoint", ab, []string{"x", "y"}, false},
		{"filter, case differs", ab, []string{"A"}, false},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, topic.Matches(topic.FilterTag, tc.sub, tc.tags, "ignored"), tc.name)
	}
	routed := &topic.Subscription{BindingKeys: []string{"x.*", "y.#"}, FilterTags: []string{"a"}}
	require.True(t, topic.Matches(topic.FilterRouting, routed, nil, "x.1"))
	require.True(t, topic.Matches(topic.FilterRouting, routed, nil, "y"))
	require.False(t, topic.Matches(topic.FilterRouting, routed, []string{"a"}, "z"), "tags do not count on a routing topic")
	require.False(t, topic.Matches(topic.FilterRouting, none, nil, ""), "no binding key matches nothing")
}

func FuzzRouteMatches(f *testing.F) {
	f.Add("1.#.0", "1.2.3.0")
	f.Add("*.*.#", "a.b")
	f.Add("#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.#", "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.b")
	f.Fuzz(func(t *testing.T, b, r string) {
		if len(b) > 64 || len(r) > 64 {
			return
		}
		got := topic.RouteMatches(b, r)
		if b == r && !containsWildcard(b) && !got {
			t.Fatalf("%q does not match itself", b)
		}
		if b == "#" && !got {
			t.Fatalf("# must match %q", r)
		}
	})
}

func containsWildcard(s string) bool {
	for _, c := range s {
		if c == '*' || c == '#' {
			return true
		}
	}
	return false
}
