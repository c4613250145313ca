package cmq

import (
	"cmp"
	"slices"
	"strings"

	"github.com/herald-mq/herald/internal/account"
	"github.com/herald-mq/herald/internal/engine"
	"github.com/herald-mq/herald/internal/queue"
)

// The reference: what docs/api.md says of every Action. It sits next to the
// handlers and takes its limits from the constants they use; the tests hold
// it to the registered action table, to what each handler reads and
// answers, and to every error the package can send, and
// internal/api/cmq/apidoc renders it.

// ActionDoc is the reference of one Action.
type ActionDoc struct {
	Name string
	// Group is the section of the reference the action is listed under.
	Group   string
	Summary string
	// Herald marks an action CMQ does not have.
	Herald bool
	Params []ParamDoc
	// Fields are the response's fields after the envelope's; a field of
	// the items of a list is named "list[].field".
	Fields []FieldDoc
	// Errors are the errors the action can answer beyond those of its
	// parameters (missing, type, range, list) and of every request: *Error
	// values, or the services' errors, which the mapping table turns into
	// theirs.
	Errors []error
	// Notes follow the tables.
	Notes string
}

// ParamDoc is one parameter of an Action.
type ParamDoc struct {
	Name string
	// Type is int, string, enum, bool, or string for the items of a list.
	Type string
	// List, when not 0, makes the parameter indexed (Name.0 or Name.1 on)
	// with at most List values.
	List int
	// Required is true when the action fails without it; RequiredWhen
	// says when else it is.
	Required     bool
	RequiredWhen string
	// Range is the inclusive range of an int.
	Range *Span
	// Limit is any other limit, in words.
	Limit   string
	Default string
	Desc    string
	// Herald marks a parameter CMQ does not have.
	Herald bool
	// Example is a value the reference's example request sends.
	Example string
}

// Span is an inclusive range of integers.
type Span struct{ Min, Max int64 }

// FieldDoc is one field of a response.
type FieldDoc struct {
	Name string
	Type string
	Desc string
	// When, if set, is when the field is there; otherwise it always is.
	When   string
	Herald bool
}

// Reference returns the reference of every Action, in the order the
// document lists them.
func Reference() []ActionDoc {
	return slices.Concat(topicDocs, subscriptionDocs, publishDocs, queueDocs, queueMessageDocs, routeDocs, accountDocs)
}

// Wire returns the error the API answers for err: itself for an *Error,
// its entry of the mapping table for a service's error.
func Wire(err error) *Error {
	e, _ := wireError(err)
	return e
}

// ParamErrors are the errors a parameter can cause, as the Params helpers
// make them.
func (p ParamDoc) ParamErrors() []*Error {
	var errs []*Error
	if p.Required {
		errs = append(errs, errMissing(p.Name))
	}
	if p.Type == "int" {
		errs = append(errs, errType(p.Name))
	}
	if p.Range != nil {
		errs = append(errs, errRange(p.Name))
	}
	if p.List > 0 {
		errs = append(errs, errBatchSize(p.Name), errConsequent(p.Name), errf(4000, 10310, "parameter %s.n key format error", p.Name))
	}
	return errs
}

// MappedError is one entry of the table from the services' errors to CMQ's.
type MappedError struct {
	Target error
	Wire   *Error
}

// Mapping returns the table from the services' errors to CMQ errors.
func Mapping() []MappedError {
	out := make([]MappedError, len(mapping))
	for i, m := range mapping {
		out[i] = MappedError{m.target, m.wire}
	}
	return out
}

// RequestErrors are the errors any request can get before its action runs:
// the form, the Action name and the signature.
func RequestErrors() []*Error {
	return []*Error{
		errMethod("<method>"), errParse("<what>"), errRepeated("<name>"), errMissing("Action"), errNoAction("<name>"),
		authErr("<detail>"),
		errAKID, errNoSecretID, Wire(engine.ErrStorageFull), Wire(engine.ErrUnavailable), errInternal,
	}
}

// HeraldErrors are the codes CMQ does not document, chosen by herald.
func HeraldErrors() []*Error {
	return []*Error{
		Wire(queue.ErrQueueExists), errTooManyBoth, errEndpointPrivate, errRange("dialect"), errRange("webhookSecret"),
		errRange("dialect/webhookSecret (http subscriptions only)"), Wire(queue.ErrDeadLetterNotFound), Wire(queue.ErrDeadLetterSelf),
		Wire(engine.ErrStorageFull), Wire(engine.ErrUnavailable),
		Wire(account.ErrNotFound), Wire(account.ErrAccountNotFound), Wire(account.ErrAccountExists), Wire(account.ErrLastAdminKey),
		errAccountName, errAccountInUse,
	}
}

// IsHerald reports whether e is one of HeraldErrors.
func IsHerald(e *Error) bool {
	return slices.ContainsFunc(HeraldErrors(), func(h *Error) bool { return *h == *e })
}

// span is the Span of a range's bounds.
func span(lo, hi int64) *Span { return &Span{lo, hi} }

// ParamErrorForms are the errors of the Params helpers, for any parameter.
func ParamErrorForms() []*Error {
	return ParamDoc{Name: "<name>", Type: "int", Required: true, Range: &Span{}, List: 1}.ParamErrors()
}

// AllErrors is every error the API answers, by code, module and text: those
// of every request, of the parameters, of the mapping table and of each
// action.
func AllErrors() []*Error {
	all := slices.Concat(RequestErrors(), ParamErrorForms())
	for _, m := range mapping {
		all = append(all, m.wire)
	}
	for _, a := range Reference() {
		for _, e := range a.Errors {
			all = append(all, Wire(e))
		}
	}
	slices.SortStableFunc(all, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Code, b.Code), cmp.Compare(a.Module, b.Module), strings.Compare(a.Text, b.Text))
	})
	return slices.CompactFunc(all, func(a, b *Error) bool { return *a == *b })
}

// MaxRequestBytes bounds a request's parameters.
const MaxRequestBytes = maxRequestBytes

// Stores reports whether an action adds to what the engine stores, and so is
// refused while its disk is full.
func Stores(action string) bool { return storing[strings.ToLower(action)] }
