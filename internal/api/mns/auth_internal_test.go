package mns

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseAuthorization(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want credentials
		err  *Error
	}{
		{"MNS id:sig=", credentials{"id", "sig="}, nil},
		{"MNS  id:a:b", credentials{"id", "a:b"}, nil},
		{"", credentials{}, errMissingAuth},
		{"mns id:sig", credentials{}, errInvalidAuth},
		{"MNS id", credentials{}, errInvalidAuth},
		{"MNS :sig", credentials{}, errInvalidAuth},
		{"MNS id:", credentials{}, errInvalidAuth},
		{"MNS4-HMAC-SHA256 Credential=a/b", credentials{}, errInvalidAuth},
	} {
		got, err := parseAuthorization(tc.in)
		if tc.err != nil {
			require.Equal(t, tc.err, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

func TestParseQuery(t *testing.T) {
	t.Parallel()
	q, err := parseQuery("ReceiptHandle=a+b%2Fc&VisibilityTimeout=10&&peekonly")
	require.NoError(t, err)
	require.Equal(t, query{"receipthandle": "a+b/c", "visibilitytimeout": "10", "peekonly": ""}, q)
	for _, bad := range []string{"a=%zz", "%zz=1", "a=1&A=2"} {
		_, err := parseQuery(bad)
		require.Error(t, err, bad)
	}
}

func TestStringToSign(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	h.Set("Content-MD5", "m")
	h.Set("Content-Type", "t")
	h.Set("Date", "d")
	h.Set("X-Mns-Version", "2015-06-06")
	h["x-mns-prefix"] = []string{" q "}
	h.Set("X-Other", "x")
	require.Equal(t, "GET\nm\nt\nd\nx-mns-prefix:q\nx-mns-version:2015-06-06\n/queues?x=1", stringToSign("GET", h, "/queues?x=1"))
	r := httptest.NewRequest(http.MethodGet, "/queues", nil)
	r.RequestURI = "///queues?a=b"
	require.Equal(t, "/queues?a=b", resource(r))
}

func BenchmarkStringToSign(b *testing.B) {
	h := http.Header{}
	h.Set("Content-MD5", "ZDQxZDhjZDk4ZjAwYjIwNGU5ODAwOTk4ZWNmODQyN2U=")
	h.Set("Content-Type", "application/xml")
	h.Set("Date", "Thu, 07 Mar 2024 18:49:58 GMT")
	h.Set("X-Mns-Version", "2015-06-06")
	h.Set("User-Agent", "aliyun-sdk-go/2.0.1")
	for b.Loop() {
		_ = sign("secret", stringToSign(http.MethodGet, h, "/queues/q/messages?numOfMessages=16&waitseconds=1"))
	}
}
