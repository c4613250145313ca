package client

import (
	"net/url"
	"strings"
	"testing"
)

func TestWriteQueryEscapedIsQueryEscape(t *testing.T) {
	t.Parallel()
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, s := range []string{"", "plain", "hello world&x=1", "a+b=c/d?e", "你好", "-_.~", "100%", string(all)} {
		var b strings.Builder
		writeQueryEscaped(&b, s)
		if got, want := b.String(), url.QueryEscape(s); got != want {
			t.Errorf("writeQueryEscaped(%q) = %q, want %q", s, got, want)
		}
	}
}

func FuzzWriteQueryEscaped(f *testing.F) {
	f.Add("hello world&x=1")
	f.Add("SAerGgkNO1/lBt5Aw+26lNyUcVLu6h5umYgXkgsFrPY=")
	f.Fuzz(func(t *testing.T, s string) {
		var b strings.Builder
		writeQueryEscaped(&b, s)
		if got, want := b.String(), url.QueryEscape(s); got != want {
			t.Fatalf("writeQueryEscaped(%q) = %q, want %q", s, got, want)
		}
	})
}
