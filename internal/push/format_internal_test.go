package push

import (
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func benchMessage(size int) *Message {
	return &Message{
		TopicOwner: 100015036, TopicName: "MyTopic", SubscriptionName: "mysubscription",
		ID: "6942316962", Body: []byte(strings.Repeat("a<b>&\"c\" ", size/10)), Tags: []string{"a", "b"},
		PublishTime: time.UnixMilli(1680079287576),
	}
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", "\"\\/\b\f\n\r\t\x00\x1f\x7f", "<>&", "中文 \u2028\u2029 😀", "\xff\xfe bad \xc3"} {
		var got string
		require.NoError(t, json.Unmarshal(appendJSONString(nil, s), &got), "%q", s)
		want, err := json.Marshal(s) // encoding/json also replaces each invalid byte
		require.NoError(t, err)
		var wantStr string
		require.NoError(t, json.Unmarshal(want, &wantStr))
		require.Equal(t, wantStr, got, "%q", s)
	}
}

// FuzzAppendJSONString: message bodies are outside input; whatever they
// hold, the JSON body must parse back to the body (invalid UTF-8 replaced).
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "test message", "\"\\\n\x00", "\xff", "\u2028", "中文"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		enc := appendJSONString(nil, b)
		var got string
		require.NoError(t, json.Unmarshal(enc, &got))
		want := []rune{}
		for i := 0; i < len(b); {
			r, n := utf8.DecodeRune(b[i:])
			want = append(want, r)
			i += n
		}
		require.Equal(t, string(want), got)
	})
}

// FuzzAppendMNSXML: the Notification document stays well-formed and keeps
// every character XML can carry, whatever the body.
func FuzzAppendMNSXML(f *testing.F) {
	for _, s := range []string{"", "test message", "<a>&amp;]]>\r\n\t'\"", "\x00\x01\x1f", "\xef\xbf\xbe", "\xff", "中文"} {
		f.Add([]byte(s), "tag")
	}
	f.Fuzz(func(t *testing.T, body []byte, tag string) {
		m := benchMessage(0)
		m.Body, m.Tags = body, []string{tag}
		var n struct {
			Message    string
			MessageTag string
		}
		require.NoError(t, xml.Unmarshal(appendMNSXML(nil, m, md5Upper(body)), &n))
		want := []rune{}
		for i := 0; i < len(body); {
			r, size := utf8.DecodeRune(body[i:])
			if !xmlChar(r) || (r == utf8.RuneError && size == 1) {
				r = utf8.RuneError
			}
			want = append(want, r)
			i += size
		}
		require.Equal(t, string(want), n.Message)
	})
}

func BenchmarkBuild(b *testing.B) {
	m := benchMessage(1024)
	sum := md5Upper(m.Body)
	buf := make([]byte, 0, 4096)
	b.Run("CMQ-JSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = appendCMQJSON(buf[:0], m)
		}
	})
	b.Run("MNS-XML", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = appendMNSXML(buf[:0], m, sum)
		}
	})
	b.Run("MNS-JSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = appendMNSJSON(buf[:0], m, sum)
		}
	})
}

// xmlChar is the XML 1.0 Char production.
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}
