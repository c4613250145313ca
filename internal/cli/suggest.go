package cli

import (
	"fmt"
	"slices"
	"strings"
)

// suggest returns the candidates a mistyped word most likely meant: those
// it is a prefix of, and those within a small edit distance (a swap of two
// adjacent letters counts as one edit), closest first.
func suggest(word string, candidates []string) []string {
	if word == "" {
		return nil
	}
	limit := 1
	if len(word) > 4 {
		limit = 2
	}
	type scored struct {
		name string
		dist int
	}
	var found []scored
	for _, c := range candidates {
		d := distance(word, c)
		switch {
		case d <= limit:
			found = append(found, scored{c, d})
		case strings.HasPrefix(c, word):
			found = append(found, scored{c, limit + 1})
		}
	}
	slices.SortStableFunc(found, func(a, b scored) int { return a.dist - b.dist })
	out := make([]string, len(found))
	for i, f := range found {
		out[i] = f.name
	}
	return out
}

// didYouMean is the line that follows an unknown word, or "" when nothing
// is close.
func didYouMean(word string, candidates []string) string {
	s := suggest(word, candidates)
	switch len(s) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf("did you mean %q?\n", s[0])
	}
	quoted := make([]string, len(s))
	for i, c := range s {
		quoted[i] = fmt.Sprintf("%q", c)
	}
	return "did you mean one of " + strings.Join(quoted, ", ") + "?\n"
}

// distance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and transpositions of adjacent
// bytes each cost one.
func distance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
