package queue

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
)

// Handle is what a receipt handle carries: enough to acknowledge one
// delivery of one message from any herald process, and when it expires.
type Handle struct {
	// Epoch is the queue's epoch at the delivery.
	Epoch uint64
	// StreamSeq and ConsumerSeq locate the delivery in the engine.
	StreamSeq, ConsumerSeq uint64
	// Delivered is the delivery count (dequeueCount).
	Delivered uint64
	// NextVisibleMs is when the message becomes visible again, Unix ms.
	NextVisibleMs uint64
}

const (
	handleVersion = 1
	macLen        = 10
	// maxHandleLen bounds what DecodeHandle looks at: six uvarints and the MAC.
	maxHandleLen = 1 + 5*binary.MaxVarintLen64 + macLen
)

var errHandleFormat = errors.New("queue: malformed receipt handle")

// EncodeHandle seals h with the queue's key into a token of [A-Za-z0-9_-].
func EncodeHandle(key []byte, h Handle) string {
	var b [maxHandleLen]byte
	n := handleBody(b[:0], h)
	mac := handleMAC(key, n)
	n = append(n, mac[:macLen]...)
	return base64.RawURLEncoding.EncodeToString(n)
}

func handleBody(b []byte, h Handle) []byte {
	b = append(b, handleVersion)
	b = binary.AppendUvarint(b, h.Epoch)
	b = binary.AppendUvarint(b, h.StreamSeq)
	b = binary.AppendUvarint(b, h.ConsumerSeq)
	b = binary.AppendUvarint(b, h.Delivered)
	b = binary.AppendUvarint(b, h.NextVisibleMs)
	return b
}

func handleMAC(key, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return m.Sum(nil)
}

// DecodeHandle parses a receipt handle and checks its seal with key.
func DecodeHandle(key []byte, s string) (Handle, error) {
	if s == "" || len(s) > base64.RawURLEncoding.EncodedLen(maxHandleLen) {
		return Handle{}, errHandleFormat
	}
	for i := range len(s) {
		// The decoder skips CR and LF; a handle has none.
		if c := s[i]; !handleChar(c) {
			return Handle{}, errHandleFormat
		}
	}
	var buf [maxHandleLen]byte
	n, err := base64.RawURLEncoding.Strict().Decode(buf[:], []byte(s))
	if err != nil || n < 1+5+macLen || buf[0] != handleVersion {
		return Handle{}, errHandleFormat
	}
	body, mac := buf[:n-macLen], buf[n-macLen:n]
	var h Handle
	rest := body[1:]
	for _, f := range []*uint64{&h.Epoch, &h.StreamSeq, &h.ConsumerSeq, &h.Delivered, &h.NextVisibleMs} {
		v, k := binary.Uvarint(rest)
		if k <= 0 {
			return Handle{}, errHandleFormat
		}
		*f, rest = v, rest[k:]
	}
	if len(rest) != 0 {
		return Handle{}, errHandleFormat
	}
	if !hmac.Equal(mac, handleMAC(key, body)[:macLen]) {
		return Handle{}, errHandleFormat
	}
	return h, nil
}

// handleChar reports whether c may appear in a receipt handle: [A-Za-z0-9_-].
func handleChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
