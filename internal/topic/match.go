package topic

import "strings"

// Matches reports whether a message with tags and routingKey goes to sub on a
// topic of filterType (seed 002, wire.md §1.8 and §5).
func Matches(filterType int, sub *Subscription, tags []string, routingKey string) bool {
	if filterType == FilterRouting {
		for _, b := range sub.BindingKeys {
			if RouteMatches(b, routingKey) {
				return true
			}
		}
		return false
	}
	if len(sub.FilterTags) == 0 {
		return true
	}
	for _, f := range sub.FilterTags {
		for _, t := range tags {
			if f == t {
				return true
			}
		}
	}
	return false
}

// RouteMatches is RabbitMQ's topic-exchange match of a binding key against a
// routing key: words split on ".", "*" is exactly one word, "#" zero or more.
func RouteMatches(bindingKey, routingKey string) bool {
	if bindingKey == "" {
		return routingKey == ""
	}
	var r []string
	if routingKey != "" {
		r = strings.Split(routingKey, ".")
	}
	return matchWords(strings.Split(bindingKey, "."), r)
}

func matchWords(b, r []string) bool {
	for len(b) > 0 {
		switch b[0] {
		case "#":
			// Collapse repeated #: they match the same thing as one.
			for len(b) > 1 && b[1] == "#" {
				b = b[1:]
			}
			if len(b) == 1 {
				return true
			}
			for i := 0; i <= len(r); i++ {
				if matchWords(b[1:], r[i:]) {
					return true
				}
			}
			return false
		case "*":
			if len(r) == 0 {
				return false
			}
		default:
			if len(r) == 0 || r[0] != b[0] {
				return false
			}
		}
		b, r = b[1:], r[1:]
	}
	return len(r) == 0
}
