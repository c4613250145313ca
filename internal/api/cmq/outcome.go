package cmq

import "context"

// Outcome is what one request came to: the Action it named (as the action
// table spells it; empty when the request never got that far, or named no
// known action) and the code of its envelope. A decorator at the edge puts
// one in the request's context with WithOutcome and reads it once the
// handler returns, to count requests by action and code.
type Outcome struct {
	Action string
	Code   int
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
