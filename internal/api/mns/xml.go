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
// gets InvalidArgument rather than a parse error.
type number struct {
	Set  bool
	Text string
}

// UnmarshalXML records that the element was present.
func (n *number) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	n.Set = true
	return d.DecodeElement(&n.Text, &start)
}

// get returns the value in [lo, hi], or def when the element was absent.
func (n number) get(name string, lo, hi, def int64, unit string) (int64, error) {
	if !n.Set {
		return def, nil
	}
	v, err := strconv.ParseInt(strings.TrimSpace(n.Text), 10, 64)
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
