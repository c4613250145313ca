package client

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// scanEnvelope reads the envelope's fields from the top level of raw
// without decoding anything else, so that a response is decoded once, into
// its own type. It reports false, and the caller decodes raw with
// encoding/json, whenever raw is not a plain object or a field needs more
// than this reads (escapes or non-ASCII in a key, a key that matches an
// envelope field only case-insensitively, a code that is not a plain
// integer, a message that is not a plain string). When it reports true the
// envelope is what encoding/json would decode if raw is valid JSON, which
// this does not check: the caller's decode of the whole response does.
func scanEnvelope(raw []byte) (envelope, bool) {
	var env envelope
	var fields [len(envelopeKeys)][]byte
	i := skipSpace(raw, 0)
	if i == len(raw) || raw[i] != '{' {
		return env, false
	}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		i++
	} else {
		for {
			if i == len(raw) || raw[i] != '"' {
				return env, false
			}
			j := i + 1
			for j < len(raw) && raw[j] != '"' && raw[j] != '\\' && raw[j] >= 0x20 && raw[j] < 0x80 {
				j++
			}
			if j == len(raw) || raw[j] != '"' {
				return env, false
			}
			field, ok := envelopeField(raw[i+1 : j])
			if !ok {
				return env, false
			}
			i = skipSpace(raw, j+1)
			if i == len(raw) || raw[i] != ':' {
				return env, false
			}
			i = skipSpace(raw, i+1)
			end, ok := skipValue(raw, i)
			if !ok {
				return env, false
			}
			if field >= 0 {
				fields[field] = raw[i:end] // the last one wins, as in encoding/json
			}
			i = skipSpace(raw, end)
			if i == len(raw) {
				return env, false
			}
			if raw[i] == '}' {
				i++
				break
			}
			if raw[i] != ',' {
				return env, false
			}
			i = skipSpace(raw, i+1)
		}
	}
	if skipSpace(raw, i) != len(raw) {
		return env, false
	}
	if v := fields[0]; v != nil && string(v) != "null" {
		n, err := strconv.Atoi(string(v))
		if err != nil || v[0] == '+' || len(v) > 1 && (v[0] == '0' || v[0] == '-' && v[1] == '0') {
			return env, false
		}
		env.Code = &n
	}
	if v := fields[1]; v != nil && string(v) != "null" {
		if len(v) < 2 || v[0] != '"' || bytes.IndexByte(v[1:len(v)-1], '\\') >= 0 || !plainASCII(v[1:len(v)-1]) {
			return env, false
		}
		env.Message = string(v[1 : len(v)-1])
	}
	env.RequestID = json.RawMessage(fields[2])
	env.ClientRequestID = json.RawMessage(fields[3])
	return env, true
}

var envelopeKeys = [...]string{"code", "message", "requestId", "clientRequestId"}

// envelopeField is the index of key in envelopeKeys, -1 for another key, and
// false for a key encoding/json would match with an envelope field only by
// folding case.
func envelopeField(key []byte) (int, bool) {
	for i, k := range envelopeKeys {
		if string(key) == k {
			return i, true
		}
		if bytes.EqualFold(key, []byte(k)) {
			return 0, false
		}
	}
	return -1, true
}

func plainASCII(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c >= 0x80 {
			return false
		}
	}
	return true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value starting at b[i], assuming
// well-formed JSON; false when b ends first.
func skipValue(b []byte, i int) (int, bool) {
	if i == len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				end, ok := skipString(b, i)
				if !ok {
					return 0, false
				}
				i = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return 0, false
	}
	start := i
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++
	}
	return i, i > start
}

// skipString returns the end of the JSON string starting at b[i].
func skipString(b []byte, i int) (int, bool) {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return 0, false
}
