package client_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/client"
)

// The worked vectors of wire.md §1.10, computed with the cmq-python-sdk.
const (
	src1 = "POST127.0.0.1:8080/v2/index.php?Action=SendMessage&Nonce=12345&RequestClient=SDK_Python_1.3&SecretId=AKIDtest&SignatureMethod=HmacSHA1&Timestamp=1700000000&delaySeconds=0&msgBody=hello world&x=1&queueName=q1"
	src2 = "POST127.0.0.1:8080/v2/index.php?Action=SendMessage&Nonce=12345&RequestClient=SDK_Python_1.3&SecretId=AKIDtest&SignatureMethod=HmacSHA256&Timestamp=1700000000&delaySeconds=0&msgBody=hello world&x=1&queueName=q1"
	src3 = "GETlocalhost:8080/v2/index.php?Action=BatchSendMessage&Nonce=1&SecretId=AKIDtest&SignatureMethod=HmacSHA1&Timestamp=1700000000&delaySeconds=0&msgBody.1=a&msgBody.2=b&queueName=q1"
)

func src1Params(method string) []client.Param {
	// Deliberately unsorted, with a Signature that must be ignored.
	return []client.Param{
		{Key: "queueName", Value: "q1"},
		{Key: "msgBody", Value: "hello world&x=1"},
		{Key: "Signature", Value: "ignored"},
		{Key: "Action", Value: "SendMessage"},
		{Key: "Timestamp", Value: "1700000000"},
		{Key: "SecretId", Value: "AKIDtest"},
		{Key: "SignatureMethod", Value: method},
		{Key: "RequestClient", Value: "SDK_Python_1.3"},
		{Key: "Nonce", Value: "12345"},
		{Key: "delaySeconds", Value: "0"},
	}
}

func TestSignatureVectors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		method, host   string
		params         []client.Param
		sigMethod      string
		wantSrc, wantS string
	}{
		{
			name: "SIG1 HmacSHA1", method: "POST", host: "127.0.0.1:8080",
			params: src1Params(client.HmacSHA1), sigMethod: client.HmacSHA1,
			wantSrc: src1, wantS: "sPg7RaV//lVJpQ/WukXabNokRco=",
		},
		{
			name: "SIG2 HmacSHA256", method: "POST", host: "127.0.0.1:8080",
			params: src1Params(client.HmacSHA256), sigMethod: client.HmacSHA256,
			wantSrc: src2, wantS: "SAerGgkNO1/lBt5Aw+26lNyUcVLu6h5umYgXkgsFrPY=",
		},
		{
			name: "SIG3 GET batch", method: "GET", host: "localhost:8080",
			params: []client.Param{
				{Key: "msgBody.2", Value: "b"},
				{Key: "msgBody.1", Value: "a"},
				{Key: "queueName", Value: "q1"},
				{Key: "delaySeconds", Value: "0"},
				{Key: "Action", Value: "BatchSendMessage"},
				{Key: "Nonce", Value: "1"},
				{Key: "SecretId", Value: "AKIDtest"},
				{Key: "SignatureMethod", Value: "HmacSHA1"},
				{Key: "Timestamp", Value: "1700000000"},
			},
			sigMethod: client.HmacSHA1,
			wantSrc:   src3, wantS: "z2Wxq4LjLJau2M9001LEkAXiePI=",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := client.StringToSign(tt.method, tt.host, "/v2/index.php", tt.params)
			require.Equal(t, tt.wantSrc, src)
			require.Equal(t, tt.wantS, client.Sign(tt.sigMethod, "testSecretKey", src))
		})
	}
}

func TestStringToSignQuirks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		method string
		params []client.Param
		want   string
	}{
		{
			name:   "underscore becomes dot after sorting on the original key",
			method: "POST",
			// "a_b" sorts after "a.c" ('_' > '.'), and is written as "a.b".
			params: []client.Param{{Key: "a_b", Value: "1"}, {Key: "a.c", Value: "2"}},
			want:   "POSTh/p?a.c=2&a.b=1",
		},
		{
			name:   "byte-wise order puts upper case first",
			method: "get",
			params: []client.Param{{Key: "b", Value: ""}, {Key: "B", Value: "x"}, {Key: "a", Value: "y"}},
			want:   "GETh/p?B=x&a=y&b=",
		},
		{
			name:   "no params",
			method: "POST",
			want:   "POSTh/p?",
		},
		{
			name:   "raw keys keep spaces and values stay unescaped",
			method: "POST",
			params: []client.Param{{Key: "limit ", Value: "a+b%20"}},
			want:   "POSTh/p?limit =a+b%20",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, client.StringToSign(tt.method, "h", "/p", tt.params))
		})
	}
}

func TestSignMethodFallsBackToSHA1(t *testing.T) {
	t.Parallel()
	sha1 := client.Sign(client.HmacSHA1, "k", "s")
	for _, m := range []string{"", "hmacsha256", "HmacSHA512", "HmacSHA1"} {
		require.Equal(t, sha1, client.Sign(m, "k", "s"), m)
	}
	require.NotEqual(t, sha1, client.Sign(client.HmacSHA256, "k", "s"))
}

// AppendStringToSign and SignBytes are StringToSign and Sign for a signer
// that keeps its buffer; the params' order never matters.
func TestAppendStringToSign(t *testing.T) {
	t.Parallel()
	params := src1Params(client.HmacSHA1)
	sorted := slices.Clone(params)
	slices.SortStableFunc(sorted, func(a, b client.Param) int { return strings.Compare(a.Key, b.Key) })
	for _, ps := range [][]client.Param{params, sorted} {
		buf := client.AppendStringToSign([]byte("kept:"), "post", "127.0.0.1:8080", "/v2/index.php", ps)
		require.Equal(t, "kept:"+src1, string(buf))
		require.Equal(t, "sPg7RaV//lVJpQ/WukXabNokRco=", client.SignBytes(client.HmacSHA1, "testSecretKey", buf[len("kept:"):]))
	}
	require.Equal(t, "ignored", params[2].Value, "the caller's params are not reordered")
}
