package cmq

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/herald-mq/herald/client"
)

// maxRequestBytes bounds a request's form (CMQ: "request size is more than 1MB").
const maxRequestBytes = 1 << 20

// Form is a request's parameters: the query string and, for POST, the body.
// Keys and values are decoded; keys keep any stray spaces because some SDKs
// sign them that way, while lookups ignore them.
type Form struct {
	// Params are the parameters in the order received, keys as sent.
	Params []client.Param
	byKey  map[string]int // trimmed key -> index in Params
}

// ErrDuplicateParam is returned for a parameter given twice.
type ErrDuplicateParam struct{ Key string }

func (e *ErrDuplicateParam) Error() string {
	return fmt.Sprintf("parameter %s is NOT a repeatable parameter", e.Key)
}

// ReadForm reads the parameters of r: its query string and, for POST, its
// body parsed as application/x-www-form-urlencoded whatever the Content-Type,
// because the SDKs send none, */* or the right one.
func ReadForm(r *http.Request) (*Form, error) {
	var body string
	if r.Method == http.MethodPost && r.Body != nil {
		var err error
		if body, err = readBody(r.Body); err != nil {
			return nil, err
		}
	}
	f := newForm(countPairs(r.URL.RawQuery) + countPairs(body))
	if err := f.parse(r.URL.RawQuery); err != nil {
		return nil, err
	}
	if err := f.parse(body); err != nil {
		return nil, err
	}
	return f, nil
}

// readBody reads a request body of at most maxRequestBytes through a
// buffer kept between requests, so that the body costs one allocation: the
// string the parameters are cut from.
func readBody(r io.Reader) (string, error) {
	bp := bodyBufs.Get().(*[]byte)
	b := (*bp)[:0]
	defer func() {
		if cap(b) <= maxPooledBody {
			*bp = b[:0]
			bodyBufs.Put(bp)
		}
	}()
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if len(b) > maxRequestBytes {
			return "", errTooLarge
		}
		if errors.Is(err, io.EOF) {
			return string(b), nil
		}
		if err != nil {
			return "", fmt.Errorf("cannot read the request body: %w", err)
		}
	}
}

var bodyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// maxPooledBody keeps the buffers of unusually big requests out of the pool.
const maxPooledBody = 64 << 10

// countPairs is at least the number of parameters in a form.
func countPairs(s string) int {
	if s == "" {
		return 0
	}
	return strings.Count(s, "&") + 1
}

func newForm(n int) *Form {
	f := &Form{byKey: make(map[string]int, n)}
	if n > 0 {
		f.Params = make([]client.Param, 0, n)
	}
	return f
}

var errTooLarge = fmt.Errorf("request size is more than 1MB")

// ParseForm parses one URL-encoded form (exported for the fuzz test and the
// benchmark).
func ParseForm(s string) (*Form, error) {
	f := newForm(countPairs(s))
	return f, f.parse(s)
}

func (f *Form) parse(s string) error {
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if pair == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		key, err := unescape(rawKey)
		if err != nil {
			return fmt.Errorf("cannot parse parameter name %q", rawKey)
		}
		value, err := unescape(rawValue)
		if err != nil {
			return fmt.Errorf("cannot parse the value of %s", key)
		}
		if key == "" {
			continue
		}
		trimmed := strings.TrimSpace(key)
		if _, dup := f.byKey[trimmed]; dup {
			return &ErrDuplicateParam{Key: trimmed}
		}
		f.byKey[trimmed] = len(f.Params)
		f.Params = append(f.Params, client.Param{Key: key, Value: value})
	}
	return nil
}

// unescape is url.QueryUnescape, which returns s itself when it holds
// neither "%" nor "+": found here faster, for bodies of kilobytes.
func unescape(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, nil
	}
	return url.QueryUnescape(s)
}

// Get returns the value of the parameter named key (surrounding spaces in the
// sent name ignored).
func (f *Form) Get(key string) (string, bool) {
	i, ok := f.byKey[key]
	if !ok {
		return "", false
	}
	return f.Params[i].Value, true
}

// Has reports whether the parameter was sent.
func (f *Form) Has(key string) bool {
	_, ok := f.byKey[key]
	return ok
}
