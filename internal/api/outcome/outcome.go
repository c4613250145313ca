// Package outcome carries what an API request came to — the action it named
// and the code it was answered with — from the handler out to the decorator
// at the edge that counts requests, so the APIs know nothing of metrics.
package outcome

import "context"

// Outcome is what one request came to: the action as the API's table spells
// it (empty when the request named none it knows) and the code of its
// answer.
type Outcome struct {
	Action string
	Code   string
}

type key struct{}

// With returns ctx carrying an Outcome for the handler to fill in.
func With(ctx context.Context) (context.Context, *Outcome) {
	o := &Outcome{}
	return context.WithValue(ctx, key{}, o), o
}

// From returns the Outcome ctx carries, or nil.
func From(ctx context.Context) *Outcome {
	o, _ := ctx.Value(key{}).(*Outcome)
	return o
}
