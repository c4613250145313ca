package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

// outputFormat is the value of -o: how a client command prints the
// response.
type outputFormat string

const (
	outputTable outputFormat = "table"
	outputJSON  outputFormat = "json"
)

var _ flag.Value = (*outputFormat)(nil)

func (o *outputFormat) String() string { return string(*o) }

func (o *outputFormat) Set(v string) error {
	switch outputFormat(v) {
	case outputTable, outputJSON:
		*o = outputFormat(v)
		return nil
	}
	return fmt.Errorf("want %s or %s", outputTable, outputJSON)
}

// envelopeKeys are in every response and say nothing about its object.
var envelopeKeys = map[string]bool{"code": true, "message": true}

// duplicateSpellings are keys herald writes twice because SDKs read
// different spellings; the table shows only the canonical one.
var duplicateSpellings = map[string]string{
	"protocal":     "protocol",
	"filterTags":   "filterTag",
	"rewindmsgNum": "rewindMsgNum",
}

// printJSON prints the response's own fields, indented: the envelope's code
// and message are dropped, the rest is as the server sent it.
func printJSON(w io.Writer, raw json.RawMessage) error {
	fields, ok := decodeObject(raw)
	if !ok {
		return writeLine(w, string(raw))
	}
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	for _, f := range fields {
		if envelopeKeys[f.key] {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		k, _ := json.Marshal(f.key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(f.value)
	}
	b.WriteByte('}')
	var out bytes.Buffer
	if err := json.Indent(&out, b.Bytes(), "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err := out.WriteTo(w)
	return err
}

// printTable prints a response for people: a list (a field named …List)
// as aligned columns, anything else as one key and value a line. Times
// are local RFC 3339 times in loc; the request id, the envelope and
// duplicate spellings are left out.
func printTable(w io.Writer, raw json.RawMessage, loc *time.Location) error {
	fields, ok := decodeObject(raw)
	if !ok {
		return writeLine(w, string(raw))
	}
	fields = visible(fields)
	list := -1
	for i, f := range fields {
		if strings.HasSuffix(f.key, "List") && bytes.HasPrefix(bytes.TrimSpace(f.value), []byte("[")) {
			list = i
			break
		}
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	if list < 0 {
		writeKeyValues(tw, fields, loc)
		return tw.Flush()
	}
	var items []json.RawMessage
	if err := json.Unmarshal(fields[list].value, &items); err != nil {
		return err
	}
	var rest []field
	total := -1
	for i, f := range fields {
		switch {
		case i == list:
		case f.key == "totalCount":
			total, _ = strconv.Atoi(string(f.value))
		default:
			rest = append(rest, f)
		}
	}
	if len(rest) > 0 {
		writeKeyValues(tw, rest, loc)
		fmt.Fprintln(tw)
	}
	writeList(tw, items, loc)
	if err := tw.Flush(); err != nil {
		return err
	}
	if total > len(items) {
		return writeLine(w, fmt.Sprintf("(%d of %d shown: --offset and --limit page through the rest)", len(items), total))
	}
	return nil
}

func writeKeyValues(w io.Writer, fields []field, loc *time.Location) {
	for _, f := range fields {
		fmt.Fprintf(w, "%s:\t%s\n", f.key, cell(f.key, f.value, loc))
	}
}

// writeList prints one row per object, with a column for every key any of
// them has, in the order the keys first appear.
func writeList(w io.Writer, items []json.RawMessage, loc *time.Location) {
	if len(items) == 0 {
		fmt.Fprintln(w, "(none)")
		return
	}
	var columns []string
	seen := map[string]bool{}
	rows := make([]map[string]json.RawMessage, len(items))
	for i, item := range items {
		fields, ok := decodeObject(item)
		if !ok {
			fields = []field{{"value", item}}
		}
		rows[i] = map[string]json.RawMessage{}
		for _, f := range visible(fields) {
			rows[i][f.key] = f.value
			if !seen[f.key] {
				seen[f.key] = true
				columns = append(columns, f.key)
			}
		}
	}
	headers := make([]string, len(columns))
	for i, c := range columns {
		headers[i] = header(c)
	}
	fmt.Fprintln(w, strings.Join(headers, "\t"))
	for _, row := range rows {
		cells := make([]string, len(columns))
		for i, c := range columns {
			cells[i] = cell(c, row[c], loc)
		}
		fmt.Fprintln(w, strings.Join(cells, "\t"))
	}
}

// visible drops what the table never shows: the envelope, the request id
// and the second spelling of a key written twice.
func visible(fields []field) []field {
	keys := map[string]bool{}
	for _, f := range fields {
		keys[f.key] = true
	}
	var out []field
	for _, f := range fields {
		if envelopeKeys[f.key] || f.key == "requestId" || keys[duplicateSpellings[f.key]] {
			continue
		}
		out = append(out, f)
	}
	return out
}

// header turns a JSON key into a column header: topicName → TOPIC NAME.
func header(key string) string {
	var b strings.Builder
	for i, r := range key {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// cell formats one value: a number under a key ending in Time as a local
// time, a list as comma-separated values, nothing (null, "", []) as "-".
func cell(key string, v json.RawMessage, loc *time.Location) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return "-"
	}
	switch v[0] {
	case '"':
		var s string
		if json.Unmarshal(v, &s) != nil || s == "" {
			return "-"
		}
		if strings.ContainsAny(s, "\t\n\r") {
			return strconv.Quote(s)
		}
		return s
	case '[':
		var items []json.RawMessage
		if json.Unmarshal(v, &items) != nil {
			return string(v)
		}
		if len(items) == 0 {
			return "-"
		}
		out := make([]string, len(items))
		for i, item := range items {
			out[i] = cell("", item, loc)
		}
		return strings.Join(out, ",")
	case '{':
		var b bytes.Buffer
		if json.Compact(&b, v) != nil {
			return string(v)
		}
		return b.String()
	}
	if strings.HasSuffix(key, "Time") {
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return formatTime(n, loc)
		}
	}
	return string(v)
}

// millisFrom is the smallest Unix time in milliseconds a time field holds:
// as seconds it would be in the year 33658.
const millisFrom = 1e12

// formatTime formats a Unix time in seconds, or in milliseconds when it is
// that large, as RFC 3339 in loc; 0 (never) is "-".
func formatTime(n int64, loc *time.Location) string {
	switch {
	case n == 0:
		return "-"
	case n >= millisFrom:
		return time.UnixMilli(n).In(loc).Format("2006-01-02T15:04:05.000Z07:00")
	}
	return time.Unix(n, 0).In(loc).Format(time.RFC3339)
}

// field is one key of a JSON object and its raw value.
type field struct {
	key   string
	value json.RawMessage
}

// decodeObject returns an object's fields in the order the server wrote
// them; ok is false when raw is not an object.
func decodeObject(raw json.RawMessage) (fields []field, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, false
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		fields = append(fields, field{key, v})
	}
	return fields, true
}

func writeLine(w io.Writer, s string) error {
	_, err := io.WriteString(w, s+"\n")
	return err
}
