package mns

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
)

// Namespace is the namespace of every MNS document.
const Namespace = "http://mns.aliyuncs.com/doc/v1/"

const xmlDecl = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

// rootName returns the local name of a document's root element.
func rootName(body []byte) (string, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := d.Token()
		if err != nil {
			return "", errMalformedXML
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se.Name.Local, nil
		}
	}
}

// decode reads an XML request body into v, whose fields name elements by
// local name (any namespace, or none as the Go SDK sends). Text after the
// root element is refused.
func decode(body []byte, root string, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errMalformedXML.with("The request body is empty; a <%s> document is required.", root)
	}
	return decodeFrom(bytes.NewReader(body), root, v)
}

// decodeFrom is decode reading from r, as the body arrives.
func decodeFrom(r io.Reader, root string, v any) error {
	d := xml.NewDecoder(r)
	var start xml.StartElement
	for {
		tok, err := d.Token()
		if err != nil {
			return errMalformedXML
		}
		if se, ok := tok.(xml.StartElement); ok {
			start = se
			break
		}
	}
	if start.Name.Local != root {
		return errMalformedXML.with("The root element should be <%s>, not <%s>.", root, start.Name.Local)
	}
	if err := d.DecodeElement(v, &start); err != nil {
		return errMalformedXML
	}
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return errMalformedXML
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return errMalformedXML
			}
		case xml.Comment, xml.ProcInst:
		default:
			return errMalformedXML
		}
	}
}

// number is an optional integer element, kept as text so that a bad value
// gets InvalidArgument rather than a parse error; nil when absent.
type number = *string

// getNumber returns n's value in [lo, hi], or def when n is absent.
func getNumber(n number, name string, lo, hi, def int64, unit string) (int64, error) {
	if n == nil {
		return def, nil
	}
	v, err := strconv.ParseInt(strings.TrimSpace(*n), 10, 64)
	if err != nil || v < lo || v > hi {
		return 0, errRange(name, lo, hi, unit)
	}
	return v, nil
}

// boolText reads LoggingEnabled: True/False in any case.
func boolText(name, s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, errArgument.with("The value of %s should be True or False.", name)
}

// encode returns the XML declaration and v.
func encode(v any) []byte {
	if a, ok := v.(appender); ok {
		return a.appendXML(append(make([]byte, 0, 1024), xmlDecl...))
	}
	b, err := xml.Marshal(v)
	if err != nil {
		// Only types of this package are encoded; none can fail.
		panic(err)
	}
	return append([]byte(xmlDecl), b...)
}

// boolWire is how MNS writes LoggingEnabled.
func boolWire(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// appender is a document that writes itself, byte for byte as xml.Marshal
// would, to spare the reflection on the message paths.
type appender interface {
	appendXML(b []byte) []byte
}

// sliceWriter appends to a byte slice.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// appendElem appends <name>text</name> with text escaped as xml.Marshal
// escapes it.
func appendElem(b []byte, name, text string) []byte {
	b = append(b, '<')
	b = append(b, name...)
	b = append(b, '>')
	if needsEscape(text) {
		w := sliceWriter{b}
		_ = xml.EscapeText(&w, []byte(text))
		b = w.b
	} else {
		b = append(b, text...)
	}
	b = append(b, "</"...)
	b = append(b, name...)
	return append(b, '>')
}

func needsEscape(s string) bool {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '<' || c == '>' || c == '&' || c == '"' || c == '\'' {
			return true
		}
	}
	return false
}

func appendIntElem(b []byte, name string, v int64) []byte {
	b = append(b, '<')
	b = append(b, name...)
	b = append(b, '>')
	b = strconv.AppendInt(b, v, 10)
	b = append(b, "</"...)
	b = append(b, name...)
	return append(b, '>')
}

// appendOpen appends <name> or, for a root, <name xmlns="…">.
func appendOpen(b []byte, name, ns string) []byte {
	b = append(b, '<')
	b = append(b, name...)
	if ns != "" {
		b = append(b, ` xmlns="`...)
		b = append(b, ns...)
		b = append(b, '"')
	}
	return append(b, '>')
}
