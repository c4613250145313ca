package client

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"strings"
)

// Signature methods accepted by WithSignatureMethod. Any other value of the
// SignatureMethod parameter means HmacSHA1 to the server.
const (
	HmacSHA1   = "HmacSHA1"
	HmacSHA256 = "HmacSHA256"
)

// Param is one request parameter with its raw (not URL-encoded) value. The
// order of a []Param is kept on the wire; the signature does not depend on it.
type Param struct {
	Key   string
	Value string
}

// StringToSign builds the CMQ string to sign: method, host (host[:port] as the
// client addressed it, no scheme), path, "?", then "k=v" pairs joined by "&"
// for every param except Signature, sorted byte-wise on the original key, with
// "_" replaced by "." in keys and values left raw. Params with equal keys keep
// their relative order.
func StringToSign(method, host, path string, params []Param) string {
	sorted := make([]Param, 0, len(params))
	n := len(method) + len(host) + len(path) + 1
	for _, p := range params {
		if p.Key == "Signature" {
			continue
		}
		sorted = append(sorted, p)
		n += len(p.Key) + len(p.Value) + 2
	}
	slices.SortStableFunc(sorted, func(a, b Param) int { return strings.Compare(a.Key, b.Key) })

	var b strings.Builder
	b.Grow(n)
	b.WriteString(strings.ToUpper(method))
	b.WriteString(host)
	b.WriteString(path)
	b.WriteByte('?')
	for i, p := range sorted {
		if i > 0 {
			b.WriteByte('&')
		}
		// The legacy PHP backend turned "." into "_" in parameter names, so
		// the SDKs sign with the reverse replacement.
		b.WriteString(strings.ReplaceAll(p.Key, "_", "."))
		b.WriteByte('=')
		b.WriteString(p.Value)
	}
	return b.String()
}

// Sign returns the base64 HMAC of stringToSign keyed with secretKey: SHA-256
// when signatureMethod is exactly "HmacSHA256", SHA-1 otherwise (as the
// server treats a missing or unknown SignatureMethod).
func Sign(signatureMethod, secretKey, stringToSign string) string {
	newHash := sha1.New
	if signatureMethod == HmacSHA256 {
		newHash = sha256.New
	}
	mac := hmac.New(newHash, []byte(secretKey))
	mac.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
