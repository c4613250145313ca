package mns

import (
	"context"
	"crypto/hmac"
	"crypto/md5"  //nolint:gosec // Content-MD5 is MD5 by protocol.
	"crypto/sha1" //nolint:gosec // the MNS signature is HMAC-SHA1 by protocol.
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/herald-mq/herald/internal/account"
)

// Accounts finds the account an AccessKeyId (a SecretId) names.
type Accounts interface {
	Lookup(ctx context.Context, secretID string) (account.Key, error)
}

// credentials are what the Authorization header says.
type credentials struct {
	AccessKeyID string
	Signature   string
}

// parseAuthorization reads "MNS AccessKeyId:Signature".
func parseAuthorization(v string) (credentials, error) {
	if v == "" {
		return credentials{}, errMissingAuth
	}
	rest, ok := strings.CutPrefix(v, "MNS ")
	if !ok {
		return credentials{}, errInvalidAuth
	}
	id, sig, ok := strings.Cut(strings.TrimSpace(rest), ":")
	if !ok || id == "" || sig == "" {
		return credentials{}, errInvalidAuth
	}
	return credentials{AccessKeyID: id, Signature: sig}, nil
}

// stringToSign builds wire.md §2.2's string: verb, Content-MD5, Content-Type
// and Date as sent, the x-mns-* headers lower-cased and sorted, and the
// resource (the request target as sent).
func stringToSign(method string, h http.Header, resource string) string {
	var b strings.Builder
	b.Grow(256 + len(resource))
	b.WriteString(method)
	b.WriteByte('\n')
	b.WriteString(h.Get("Content-MD5"))
	b.WriteByte('\n')
	b.WriteString(h.Get("Content-Type"))
	b.WriteByte('\n')
	b.WriteString(h.Get("Date"))
	b.WriteByte('\n')
	var mns []string
	for k, vs := range h {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-mns-") && len(vs) > 0 {
			mns = append(mns, lk+":"+strings.TrimSpace(vs[0]))
		}
	}
	slices.Sort(mns)
	for _, l := range mns {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	b.WriteString(resource)
	return b.String()
}

// sign is base64(HMAC-SHA1(secret, s)).
func sign(secret, s string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// resource is the request target as the client signed it: the raw URI, with
// a leading "//" (an SDK endpoint ending in "/") collapsed to "/".
func resource(r *http.Request) string {
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	for strings.HasPrefix(uri, "//") {
		uri = uri[1:]
	}
	return uri
}

// authenticate checks a request's version header, signature, date and
// Content-MD5, and returns the account that signed it.
func (s *Server) authenticate(ctx context.Context, r *http.Request, body []byte) (account.Key, error) {
	if r.Header.Get("x-mns-version") == "" {
		return account.Key{}, errMissingVersion
	}
	cred, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return account.Key{}, err
	}
	date := cmpOr(r.Header.Get("x-mns-date"), r.Header.Get("Date"))
	if date == "" {
		return account.Key{}, errMissingDate
	}
	when, err := http.ParseTime(date)
	if err != nil {
		return account.Key{}, errInvalidDate
	}
	acct, err := s.deps.Accounts.Lookup(ctx, cred.AccessKeyID)
	if errors.Is(err, account.ErrNotFound) {
		return account.Key{}, errInvalidKeyID
	}
	if err != nil {
		return account.Key{}, err
	}
	want := sign(acct.SecretKey, stringToSign(r.Method, r.Header, resource(r)))
	if subtle.ConstantTimeCompare([]byte(want), []byte(cred.Signature)) != 1 {
		return account.Key{}, errSignature
	}
	if d := s.deps.Clock.Now().Sub(when); d > s.cfg.SignatureWindow || d < -s.cfg.SignatureWindow {
		return account.Key{}, errTimeExpired
	}
	if v := r.Header.Get("Content-MD5"); v != "" && !digestMatches(v, body) {
		return account.Key{}, errDigest
	}
	return acct, nil
}

// digestMatches accepts the SDKs' base64(lower-case hex MD5) and RFC 1864's
// base64(MD5).
func digestMatches(v string, body []byte) bool {
	sum := md5.Sum(body) //nolint:gosec // protocol-mandated
	hexSum := hex.EncodeToString(sum[:])
	return v == base64.StdEncoding.EncodeToString([]byte(hexSum)) || v == base64.StdEncoding.EncodeToString(sum[:])
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// httpDate is the Date format of requests and answers.
func httpDate(t time.Time) string { return t.UTC().Format(http.TimeFormat) }
