package cmq

import (
	"context"
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/herald-mq/herald/client"
	"github.com/herald-mq/herald/internal/account"
	"github.com/herald-mq/herald/internal/clock"
)

// Accounts finds the account a request's SecretId names.
type Accounts interface {
	Lookup(ctx context.Context, secretID string) (account.Key, error)
}

// verifier checks request signatures (wire.md §1.3), the timestamp window and
// nonce replays.
type verifier struct {
	accounts Accounts
	clk      clock.Clock
	window   time.Duration
	nonces   Nonces
}

// Nonces records request nonces where every herald process on the engine,
// and every later start of this one, sees them: a signed request is
// accepted once, whichever process it is sent to, before or after a
// restart.
type Nonces interface {
	// FirstUse records secretID's nonce and reports whether it is new.
	FirstUse(ctx context.Context, secretID, nonce string) (bool, error)
}

func authErr(detail string) *Error {
	return &Error{Code: errAuth.Code, Module: errAuth.Module, Text: errAuth.Text + ": " + detail}
}

func (v *verifier) verify(ctx context.Context, r *http.Request, f *Form) (account.Key, error) {
	secretID, _ := f.Get("SecretId")
	sig, _ := f.Get("Signature")
	ts, _ := f.Get("Timestamp")
	nonce, _ := f.Get("Nonce")
	switch {
	case secretID == "":
		return account.Key{}, authErr("missing SecretId")
	case sig == "":
		return account.Key{}, authErr("missing Signature")
	case ts == "":
		return account.Key{}, authErr("missing Timestamp")
	case nonce == "":
		return account.Key{}, authErr("missing Nonce")
	case !strings.HasPrefix(secretID, "AKID"):
		return account.Key{}, errAKID
	}
	acct, err := v.accounts.Lookup(ctx, secretID)
	if errors.Is(err, account.ErrNotFound) {
		return account.Key{}, errNoSecretID
	}
	if err != nil {
		return account.Key{}, err
	}
	if !v.signatureMatches(r, f, acct.SecretKey, sig) {
		return account.Key{}, authErr("signature does not match")
	}
	sec, err := strconv.ParseInt(strings.TrimSpace(ts), 10, 64)
	if err != nil {
		return account.Key{}, authErr("Timestamp is not a number")
	}
	now := v.clk.Now()
	if d := now.Sub(time.Unix(sec, 0)); d > v.window || d < -v.window {
		return account.Key{}, authErr("Timestamp is outside the allowed window")
	}
	first, err := v.nonces.FirstUse(ctx, secretID, nonce)
	if err != nil {
		return account.Key{}, err
	}
	if !first {
		return account.Key{}, authErr("Nonce was already used")
	}
	return acct, nil
}

// signatureMatches rebuilds the string to sign the ways real SDKs build it:
// with the Host header as sent and with or without its default port, and for
// POST also without @-prefixed values (the Python SDK leaves them out).
func (v *verifier) signatureMatches(r *http.Request, f *Form, secretKey, sig string) bool {
	method, _ := f.Get("SignatureMethod")
	params := make([]client.Param, 0, len(f.Params))
	at := false
	for _, p := range f.Params {
		if strings.TrimSpace(p.Key) == "Signature" {
			continue
		}
		params = append(params, p)
		at = at || strings.HasPrefix(p.Value, "@")
	}
	sets := [][]client.Param{params}
	if r.Method == http.MethodPost && at {
		withoutAt := make([]client.Param, 0, len(params))
		for _, p := range params {
			if !strings.HasPrefix(p.Value, "@") {
				withoutAt = append(withoutAt, p)
			}
		}
		sets = append(sets, withoutAt)
	}
	buf := signBufs.Get().(*[]byte)
	defer func() {
		if cap(*buf) <= maxPooledBody {
			signBufs.Put(buf)
		}
	}()
	for _, host := range hostForms(r) {
		for _, ps := range sets {
			*buf = client.AppendStringToSign((*buf)[:0], r.Method, host, r.URL.Path, ps)
			want := client.SignBytes(method, secretKey, *buf)
			if subtle.ConstantTimeCompare([]byte(want), []byte(sig)) == 1 {
				return true
			}
		}
	}
	return false
}

// signBufs hold strings to sign between requests.
var signBufs = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// hostForms is the Host header, then the same host with the scheme's default
// port added or removed (Python's httplib signs "h:80" but sends "h").
func hostForms(r *http.Request) []string {
	port := "80"
	if r.TLS != nil {
		port = "443"
	}
	host, p, err := net.SplitHostPort(r.Host)
	if err != nil {
		return []string{r.Host, net.JoinHostPort(r.Host, port)}
	}
	if p == port {
		return []string{r.Host, host}
	}
	return []string{r.Host}
}
