package mns

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// The message paths read their bodies (<Message>, <Messages>,
// <ReceiptHandles>) with a small parser for the plain documents SDKs send:
// an optional XML declaration, elements without attributes other than
// xmlns, text with the predefined and numeric character references. A
// document it does not know how to read exactly as encoding/xml would
// (comments, CDATA, prefixes, other attributes, carriage returns, repeated
// fields…) goes to encoding/xml instead; FuzzXMLBody checks that both agree.

// node is an element of a plain document.
type node struct {
	name []byte // a slice of the document
	text []byte // a slice of the document unless it held references
	kids []node
}

// plainDecls are the XML declarations of plain documents.
var plainDecls = []string{
	`<?xml version="1.0" encoding="UTF-8"?>`, `<?xml version="1.0" encoding="utf-8"?>`, `<?xml version="1.0"?>`,
}

// plainParser reads a plain document.
type plainParser struct {
	b []byte
	i int
}

// parsePlain parses body as a plain document of at most depth levels; ok is
// false when the document is not plain.
func parsePlain(body []byte, depth int) (node, bool) {
	p := plainParser{b: body}
	p.skipSpace()
	for _, decl := range plainDecls {
		if bytes.HasPrefix(p.b[p.i:], []byte(decl)) {
			p.i += len(decl)
			break
		}
	}
	if bytes.HasPrefix(p.b[p.i:], []byte("<?")) {
		return node{}, false
	}
	p.skipSpace()
	n, ok := p.element(depth, true)
	if !ok {
		return node{}, false
	}
	p.skipSpace()
	return n, p.i == len(p.b)
}

func (p *plainParser) skipSpace() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n') {
		p.i++
	}
}

// element reads <name [xmlns="…"]> … </name> or <name/>.
func (p *plainParser) element(depth int, root bool) (node, bool) {
	if depth == 0 || p.i >= len(p.b) || p.b[p.i] != '<' {
		return node{}, false
	}
	p.i++
	start := p.i
	for p.i < len(p.b) && isNameByte(p.b[p.i]) {
		p.i++
	}
	if p.i == start || p.i >= len(p.b) {
		return node{}, false
	}
	n := node{name: p.b[start:p.i]}
	if c := n.name[0]; c >= '0' && c <= '9' || c == '-' || c == '.' {
		return node{}, false
	}
	if root && bytes.HasPrefix(p.b[p.i:], []byte(` xmlns="`)) {
		end := bytes.IndexByte(p.b[p.i+8:], '"')
		if end < 0 || bytes.ContainsAny(p.b[p.i+8:p.i+8+end], "<&") {
			return node{}, false
		}
		p.i += 8 + end + 1
	}
	switch {
	case p.i >= len(p.b):
		return node{}, false
	case bytes.HasPrefix(p.b[p.i:], []byte("/>")):
		p.i += 2
		return n, true
	case p.b[p.i] == '>':
		p.i++
	default:
		return node{}, false
	}
	for {
		if p.i >= len(p.b) {
			return node{}, false
		}
		if p.b[p.i] != '<' {
			if !p.text(&n) {
				return node{}, false
			}
			continue
		}
		if bytes.HasPrefix(p.b[p.i:], []byte("</")) {
			p.i += 2
			if !bytes.HasPrefix(p.b[p.i:], n.name) {
				return node{}, false
			}
			p.i += len(n.name)
			if p.i >= len(p.b) || p.b[p.i] != '>' {
				return node{}, false
			}
			p.i++
			if len(n.kids) > 0 && len(bytes.TrimLeft(n.text, " \t\n")) > 0 {
				return node{}, false // mixed content
			}
			return n, true
		}
		kid, ok := p.element(depth-1, false)
		if !ok {
			return node{}, false
		}
		n.kids = append(n.kids, kid)
	}
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
}

// text reads character data up to the next '<', resolving references.
func (p *plainParser) text(n *node) bool {
	start := p.i
	copied := len(n.text) > 0
	for p.i < len(p.b) && p.b[p.i] != '<' {
		c := p.b[p.i]
		switch {
		case c == '&':
			if !copied {
				n.text = append([]byte(nil), p.b[start:p.i]...)
				copied = true
			}
			end := bytes.IndexByte(p.b[p.i:], ';')
			if end < 0 {
				return false
			}
			r, ok := reference(p.b[p.i+1 : p.i+end])
			if !ok {
				return false
			}
			n.text = utf8.AppendRune(n.text, r)
			p.i += end + 1
			continue
		case c == '>' || c == '\r' || c < 0x20 && c != '\t' && c != '\n':
			return false
		case c < utf8.RuneSelf:
			if copied {
				n.text = append(n.text, c)
			}
			p.i++
			continue
		}
		r, size := utf8.DecodeRune(p.b[p.i:])
		if !inCharRange(r) || r == utf8.RuneError && size == 1 {
			return false
		}
		if copied {
			n.text = append(n.text, p.b[p.i:p.i+size]...)
		}
		p.i += size
	}
	if !copied {
		n.text = p.b[start:p.i]
	}
	return true
}

// reference resolves the name of &name;.
func reference(name []byte) (rune, bool) {
	switch string(name) {
	case "amp":
		return '&', true
	case "lt":
		return '<', true
	case "gt":
		return '>', true
	case "quot":
		return '"', true
	case "apos":
		return '\'', true
	}
	if len(name) < 2 || name[0] != '#' {
		return 0, false
	}
	var v uint64
	var err error
	if name[1] == 'x' {
		if len(name) < 3 {
			return 0, false
		}
		v, err = strconv.ParseUint(string(name[2:]), 16, 32)
	} else {
		v, err = strconv.ParseUint(string(name[1:]), 10, 32)
	}
	if err != nil || v == '\r' || !inCharRange(rune(v)) {
		return 0, false
	}
	return rune(v), true
}

// inCharRange is XML's Char production, as encoding/xml checks it.
func inCharRange(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// messageIn reads a <Message> node, refusing a repeated field and any
// field with elements inside; other elements are ignored, as encoding/xml
// ignores them.
func (n *node) messageIn() (messageIn, bool) {
	var m messageIn
	var body bool
	for i := range n.kids {
		k := &n.kids[i]
		var dst **string
		switch string(k.name) {
		case "MessageBody":
			if body || len(k.kids) > 0 {
				return messageIn{}, false
			}
			body = true
			m.MessageBody = string(k.text)
			continue
		case "DelaySeconds":
			dst = &m.DelaySeconds
		case "Priority":
			dst = &m.Priority
		default:
			continue
		}
		if *dst != nil || len(k.kids) > 0 {
			return messageIn{}, false
		}
		v := string(k.text)
		*dst = &v
	}
	return m, true
}

// fastMessage, fastMessages and fastHandles read the message paths' bodies
// when they are plain; ok false sends the body to encoding/xml.
func fastMessage(body []byte) (messageIn, bool) {
	n, ok := parsePlain(body, 2)
	if !ok || string(n.name) != "Message" {
		return messageIn{}, false
	}
	return n.messageIn()
}

func fastMessages(body []byte) (messagesIn, bool) {
	n, ok := parsePlain(body, 3)
	if !ok || string(n.name) != "Messages" {
		return messagesIn{}, false
	}
	var out messagesIn
	for i := range n.kids {
		k := &n.kids[i]
		if string(k.name) != "Message" {
			if len(k.kids) > 0 {
				return messagesIn{}, false
			}
			continue
		}
		m, ok := k.messageIn()
		if !ok {
			return messagesIn{}, false
		}
		out.Messages = append(out.Messages, m)
	}
	return out, true
}

func fastHandles(body []byte) (receiptHandlesIn, bool) {
	n, ok := parsePlain(body, 2)
	if !ok || string(n.name) != "ReceiptHandles" {
		return receiptHandlesIn{}, false
	}
	var out receiptHandlesIn
	for i := range n.kids {
		k := &n.kids[i]
		if string(k.name) == "ReceiptHandle" {
			if len(k.kids) > 0 {
				return receiptHandlesIn{}, false
			}
			out.Handles = append(out.Handles, string(k.text))
		}
	}
	return out, true
}
