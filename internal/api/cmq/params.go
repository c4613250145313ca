package cmq

import (
	"strconv"
	"strings"
)

// Params reads one request's parameters with CMQ's rules and error codes.
type Params struct {
	f *Form
	// read, when set, hears of every parameter read: the reference's test
	// holds what an action reads to what the reference says.
	read func(ParamRead)
}

// ParamRead is one parameter as an action read it: required or not, and the
// range or the most values it allowed.
type ParamRead struct {
	Name     string
	Required bool
	Range    *Span
	List     int
}

// Get returns an optional string parameter.
func (p Params) Get(name string) (string, bool) {
	if p.read != nil {
		p.read(ParamRead{Name: name})
	}
	return p.f.Get(name)
}

// Required returns a parameter that must be present and non-empty.
func (p Params) Required(name string) (string, error) {
	if p.read != nil {
		p.read(ParamRead{Name: name, Required: true})
	}
	v, ok := p.f.Get(name)
	if !ok || v == "" {
		return "", errMissing(name)
	}
	return v, nil
}

// Int returns an optional integer parameter within [lo, hi], or def when absent.
func (p Params) Int(name string, lo, hi, def int64) (int64, error) {
	if p.read != nil {
		p.read(ParamRead{Name: name, Range: &Span{lo, hi}})
	}
	v, ok := p.f.Get(name)
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, errType(name)
	}
	if n < lo || n > hi {
		return 0, errRange(name)
	}
	return n, nil
}

// RequiredInt is Int for a parameter that must be present.
func (p Params) RequiredInt(name string, lo, hi int64) (int64, error) {
	if p.read != nil {
		p.read(ParamRead{Name: name, Required: true})
	}
	if !p.f.Has(name) {
		return 0, errMissing(name)
	}
	return p.Int(name, lo, hi, 0)
}

// List returns the indexed parameters name.0, name.1, … or name.1, name.2, …:
// the first index is 0 or 1 and the rest follow without gaps. More than max
// values is tooMany (when nil, the common batch-size error).
func (p Params) List(name string, max int, tooMany *Error) ([]string, error) {
	if p.read != nil {
		p.read(ParamRead{Name: name, List: max})
	}
	type indexed struct {
		n     int
		value string
	}
	var found []indexed
	hasZero := false
	for _, kv := range p.f.Params {
		k := strings.TrimSpace(kv.Key)
		if len(k) <= len(name) || k[len(name)] != '.' || k[:len(name)] != name {
			continue
		}
		digits := k[len(name)+1:]
		n, err := strconv.Atoi(digits)
		if err != nil || n < 0 || digits != strconv.Itoa(n) {
			return nil, errf(4000, 10310, "parameter %s key format error", k)
		}
		if found == nil {
			found = make([]indexed, 0, max+1)
		}
		found = append(found, indexed{n, kv.Value})
		hasZero = hasZero || n == 0
	}
	if len(found) == 0 {
		return nil, nil
	}
	if len(found) > max {
		if tooMany != nil {
			return nil, tooMany
		}
		return nil, errBatchSize(name)
	}
	first := 1
	if hasZero {
		first = 0
	}
	// The form has no repeated keys, so the indexes are distinct: they run
	// from first without gaps exactly when each falls in that range.
	out := make([]string, len(found))
	for _, f := range found {
		i := f.n - first
		if i < 0 || i >= len(out) {
			return nil, errConsequent(name)
		}
		out[i] = f.value
	}
	return out, nil
}
