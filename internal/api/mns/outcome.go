package mns

import "context"

// Outcome is what one request came to: the operation it named (empty when
// the request named none) and its error Code (empty on success). A
// decorator at the edge puts one in the request's context with WithOutcome
// and reads it once the handler returns, to count requests.
type Outcome struct {
	Action string
	Code   string
}

type outcomeKey struct{}

// WithOutcome returns ctx carrying an Outcome that the handler fills in.
func WithOutcome(ctx context.Context) (context.Context, *Outcome) {
	o := &Outcome{}
	return context.WithValue(ctx, outcomeKey{}, o), o
}

func outcomeOf(ctx context.Context) *Outcome {
	o, _ := ctx.Value(outcomeKey{}).(*Outcome)
	return o
}
