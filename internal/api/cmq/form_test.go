package cmq_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/client"
	"github.com/herald-mq/herald/internal/api/cmq"
)

func TestParseForm(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want []client.Param
		err  string
	}{
		{"", nil, ""},
		{"a=1&b=2", []client.Param{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}}, ""},
		{"msgBody=hello+world%26x%3D1", []client.Param{{Key: "msgBody", Value: "hello world&x=1"}}, ""},
		{"a&b=", []client.Param{{Key: "a", Value: ""}, {Key: "b", Value: ""}}, ""},
		{"&&a=1&&", []client.Param{{Key: "a", Value: "1"}}, ""},
		{"searchWord =x", []client.Param{{Key: "searchWord ", Value: "x"}}, ""}, // NETkiddy's key
		{"msgBody.1=%E4%BD%A0", []client.Param{{Key: "msgBody.1", Value: "你"}}, ""},
		{"a=%zz", nil, "cannot parse the value of a"},
		{"%zz=1", nil, "cannot parse parameter name"},
		{"a=1&a=2", nil, "NOT a repeatable"},
		{"a=1&a%20=2", nil, "NOT a repeatable"},
	}
	for _, tc := range cases {
		f, err := cmq.ParseForm(tc.in)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, f.Params, tc.in)
	}
	f, err := cmq.ParseForm("offset =5")
	require.NoError(t, err)
	v, ok := f.Get("offset")
	require.True(t, ok)
	require.Equal(t, "5", v)
}

func TestReadFormMergesQueryAndBodyWhateverTheContentType(t *testing.T) {
	t.Parallel()
	for _, ct := range []string{"", "*/*;charset=utf-8", "application/x-www-form-urlencoded", "text/plain"} {
		r := httptest.NewRequest(http.MethodPost, "/v2/index.php?Action=X", strings.NewReader("b=2"))
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		f, err := cmq.ReadForm(r)
		require.NoError(t, err)
		require.Equal(t, []client.Param{{Key: "Action", Value: "X"}, {Key: "b", Value: "2"}}, f.Params, ct)
	}
}

func FuzzParseForm(f *testing.F) {
	f.Add("Action=SendMessage&Nonce=12345&RequestClient=SDK_Python_1.3&SecretId=AKIDtest&SignatureMethod=HmacSHA1&Timestamp=1700000000&delaySeconds=0&msgBody=hello+world%26x%3D1&queueName=q1&Signature=sPg7RaV%2F%2FlVJpQ%2FWukXabNokRco%3D")
	f.Add("msgBody.0=a&msgBody.1=b&searchWord =x&%zz")
	f.Add("a=%")
	f.Fuzz(func(t *testing.T, s string) {
		form, err := cmq.ParseForm(s)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, p := range form.Params {
			k := strings.TrimSpace(p.Key)
			if seen[k] {
				t.Fatalf("duplicate key %q accepted", k)
			}
			seen[k] = true
			v, ok := form.Get(k)
			if !ok || v != p.Value {
				t.Fatalf("Get(%q) = %q, %v; want %q", k, v, ok, p.Value)
			}
		}
	})
}
