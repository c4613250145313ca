package cmq

import (
	"strconv"
	"strings"
)

// Params reads one request's parameters with CMQ's rules and error codes.
type Params struct{ f *Form }

// Get returns an optional string parameter.
func (p Params) Get(name string) (string, bool) { return p.f.Get(name) }

// Required returns a parameter that must be present and non-empty.
func (p Params) Required(name string) (string, error) {
	v, ok := p.f.Get(name)
	if !ok || v == "" {
		return "", errMissing(name)
	}
	return v, nil
}

// Int returns an optional integer parameter within [lo, hi], or def when absent.
func (p Params) Int(name string, lo, hi, def int64) (int64, error) {
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
	if !p.f.Has(name) {
		return 0, errMissing(name)
	}
	return p.Int(name, lo, hi, 0)
}

// List returns the indexed parameters name.0, name.1, … or name.1, name.2, …:
// the first index is 0 or 1 and the rest follow without gaps. More than max
// values is tooMany (when nil, the common batch-size error).
func (p Params) List(name string, max int, tooMany *Error) ([]string, error) {
	prefix := name + "."
	var idx []int
	byIdx := map[int]string{}
	for _, kv := range p.f.Params {
		k := strings.TrimSpace(kv.Key)
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		n, err := strconv.Atoi(k[len(prefix):])
		if err != nil || n < 0 || k[len(prefix):] != strconv.Itoa(n) {
			return nil, errf(4000, 10310, "parameter %s key format error", k)
		}
		idx = append(idx, n)
		byIdx[n] = kv.Value
	}
	if len(idx) == 0 {
		return nil, nil
	}
	if len(idx) > max {
		if tooMany != nil {
			return nil, tooMany
		}
		return nil, errBatchSize(name)
	}
	first := 1
	if _, ok := byIdx[0]; ok {
		first = 0
	}
	out := make([]string, len(idx))
	for i := range out {
		v, ok := byIdx[first+i]
		if !ok {
			return nil, errConsequent(name)
		}
		out[i] = v
	}
	return out, nil
}
