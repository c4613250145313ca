package client

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"io"
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
	return string(AppendStringToSign(nil, method, host, path, params))
}

// AppendStringToSign appends StringToSign(method, host, path, params) to dst
// and returns the extended slice, for a signer that keeps its buffer.
func AppendStringToSign(dst []byte, method, host, path string, params []Param) []byte {
	n := len(method) + len(host) + len(path) + 1
	for _, p := range params {
		n += len(p.Key) + len(p.Value) + 2
	}
	// Clients (this one among them) send their parameters sorted: sort a
	// copy only when they are not.
	if !slices.IsSortedFunc(params, compareKeys) {
		params = slices.Clone(params)
		slices.SortStableFunc(params, compareKeys)
	}
	dst = slices.Grow(dst, n)
	for _, c := range []byte(method) {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		dst = append(dst, c)
	}
	dst = append(dst, host...)
	dst = append(dst, path...)
	dst = append(dst, '?')
	first := true
	for _, p := range params {
		if p.Key == "Signature" {
			continue
		}
		if !first {
			dst = append(dst, '&')
		}
		first = false
		// The legacy PHP backend turned "." into "_" in parameter names, so
		// the SDKs sign with the reverse replacement.
		for i := range len(p.Key) {
			c := p.Key[i]
			if c == '_' {
				c = '.'
			}
			dst = append(dst, c)
		}
		dst = append(dst, '=')
		dst = append(dst, p.Value...)
	}
	return dst
}

func compareKeys(a, b Param) int { return strings.Compare(a.Key, b.Key) }

// Sign returns the base64 HMAC of stringToSign keyed with secretKey: SHA-256
// when signatureMethod is exactly "HmacSHA256", SHA-1 otherwise (as the
// server treats a missing or unknown SignatureMethod).
func Sign(signatureMethod, secretKey, stringToSign string) string {
	mac := newMAC(signatureMethod, secretKey)
	_, _ = io.WriteString(mac, stringToSign)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// SignBytes is Sign of a string to sign held in a byte slice.
func SignBytes(signatureMethod, secretKey string, stringToSign []byte) string {
	mac := newMAC(signatureMethod, secretKey)
	mac.Write(stringToSign)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func newMAC(signatureMethod, secretKey string) hash.Hash {
	newHash := sha1.New
	if signatureMethod == HmacSHA256 {
		newHash = sha256.New
	}
	return hmac.New(newHash, []byte(secretKey))
}
