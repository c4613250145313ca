//go:debug rsa1024min=0

// The real MNS push of wire.md §2.8 is signed with a 512-bit key, which Go
// refuses since 1.24 unless rsa1024min=0; the setting is for this test
// binary only.
package receiver_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/client/receiver"
)

// certServer answers every GET with the PEM in testdata, as the MNS
// certificate host does.
type certServer struct{ pem []byte }

func (c certServer) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader(string(c.pem))), Request: r}, nil
}

// realMNSPush is the captured SIMPLIFIED push of wire.md §2.8, as a Go
// server hands it to a handler (header names canonicalised).
func realMNSPush(t *testing.T) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/notifications", strings.NewReader("body"))
	for k, v := range map[string]string{
		"Content-md5":             "4CCBAD7AF2D23C2D00DDECCA59323A8C",
		"Content-Type":            "text/plain;charset=utf-8",
		"Date":                    "Wed, 29 Mar 2023 08:41:27 GMT",
		"x-mns-message-id":        "250EB49D5F8D737A391C93C6ED165396",
		"x-mns-publish-time":      "1680079287576",
		"x-mns-request-id":        "6423F9B7BF94313030AF5EA0",
		"x-mns-signing-cert-url":  "aHR0cHM6Ly9tbnN0ZXN0Lm9zcy1jbi1oYW5nemhvdS5hbGl5dW5jcy5jb20veDUwOV9wdWJsaWNfY2VydGlmaWNhdGUucGVt",
		"x-mns-subscriber":        "1321669497458181",
		"x-mns-subscription-name": "mns-en-subs-oss-fecdn-internal-pre-1-22849529855680",
		"x-mns-topic-name":        "mns-en-topics-oss-fecdn-internal-pre-22849529792243",
		"x-mns-topic-owner":       "1321669497458181",
		"x-mns-version":           "2015-06-06",
		"Authorization":           "LP3cxoTCbhsiLJi0KQdEiRaufaxMfWUdLH064yoVoKl8xNcY+299itGmGsirVMY8vDpuZ1VwS0Uw7R5dNduSXg==",
	} {
		r.Header.Set(k, v)
	}
	return r
}

func mnsVerifier(t *testing.T, prefix string) *receiver.Verifier {
	t.Helper()
	pem, err := os.ReadFile("testdata/mns_x509_public_certificate.pem")
	require.NoError(t, err)
	v, err := receiver.New(receiver.Config{
		MNSCertURLPrefixes: []string{prefix},
		HTTPClient:         &http.Client{Transport: certServer{pem}},
	})
	require.NoError(t, err)
	return v
}

func TestRealMNSPushVerifies(t *testing.T) {
	t.Parallel()
	v := mnsVerifier(t, "https://mnstest.oss-cn-hangzhou.aliyuncs.com/")
	p, err := v.Verify(context.Background(), realMNSPush(t), []byte("body"))
	require.NoError(t, err)
	require.Equal(t, receiver.Push{
		Dialect: receiver.DialectMNS, Format: receiver.FormatSimplified,
		MsgID: "250EB49D5F8D737A391C93C6ED165396", Body: []byte("body"),
		TopicName:        "mns-en-topics-oss-fecdn-internal-pre-22849529792243",
		SubscriptionName: "mns-en-subs-oss-fecdn-internal-pre-1-22849529855680",
		PublishTime:      time.UnixMilli(1680079287576),
	}, p)
}

func TestTamperedMNSPushRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		prefix string
		change func(r *http.Request)
	}{
		{"a signed header changed", "https://mnstest.oss-cn-hangzhou.aliyuncs.com/", func(r *http.Request) { r.Header.Set("x-mns-topic-name", "other") }},
		{"the date changed", "https://mnstest.oss-cn-hangzhou.aliyuncs.com/", func(r *http.Request) { r.Header.Set("Date", "Wed, 29 Mar 2023 08:41:28 GMT") }},
		{"another path", "https://mnstest.oss-cn-hangzhou.aliyuncs.com/", func(r *http.Request) { r.URL.Path = "/other" }},
		{"no signature", "https://mnstest.oss-cn-hangzhou.aliyuncs.com/", func(r *http.Request) { r.Header.Del("Authorization") }},
		{"certificate from an untrusted host", "https://herald.example.com/mns/", func(*http.Request) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := realMNSPush(t)
			tt.change(r)
			_, err := mnsVerifier(t, tt.prefix).Verify(context.Background(), r, []byte("body"))
			require.ErrorIs(t, err, receiver.ErrSignature)
		})
	}
}

// webhookPush is a CMQ JSON push signed with secret at unix.
func webhookPush(t *testing.T, secret string, unix int64, body string) *http.Request {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	require.NoError(t, err)
	ts := strconv.FormatInt(unix, 10)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("msg-1-sub." + ts + "." + body))
	r := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(body))
	r.Header.Set("x-cmq-message-id", "msg-1")
	r.Header.Set("x-cmq-message-tag", "a, b")
	r.Header.Set("webhook-id", "msg-1-sub")
	r.Header.Set("webhook-timestamp", ts)
	r.Header.Set("webhook-signature", "v1,bm90IHRoaXMgb25l v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return r
}

func TestWebhookSignedCMQPush(t *testing.T) {
	t.Parallel()
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	now := time.Unix(1700000000, 0)
	body := `{"TopicOwner":1000000,"topicName":"orders","subscriptionName":"billing","msgId":"msg-1","msgBody":"{\"order\":42}","publishTime":1699999990}`
	v, err := receiver.New(receiver.Config{WebhookSecrets: []string{secret}, Now: func() time.Time { return now }})
	require.NoError(t, err)

	p, err := v.Verify(context.Background(), webhookPush(t, secret, now.Unix(), body), []byte(body))
	require.NoError(t, err)
	require.Equal(t, receiver.Push{
		Dialect: receiver.DialectCMQ, Format: receiver.FormatJSON, MsgID: "msg-1", Body: []byte(`{"order":42}`),
		Tags: []string{"a", "b"}, TopicName: "orders", SubscriptionName: "billing",
		PublishTime: time.Unix(1699999990, 0), WebhookID: "msg-1-sub",
	}, p)

	_, err = v.Verify(context.Background(), webhookPush(t, secret, now.Unix(), body), []byte(body+" "))
	require.ErrorIs(t, err, receiver.ErrSignature, "body changed")
	_, err = v.Verify(context.Background(), webhookPush(t, secret, now.Add(-6*time.Minute).Unix(), body), []byte(body))
	require.ErrorIs(t, err, receiver.ErrStale)
	other := "whsec_" + base64.StdEncoding.EncodeToString([]byte("another secret of 24 bytes"))
	_, err = v.Verify(context.Background(), webhookPush(t, other, now.Unix(), body), []byte(body))
	require.ErrorIs(t, err, receiver.ErrSignature, "signed with another secret")
	unsigned := webhookPush(t, secret, now.Unix(), body)
	unsigned.Header.Del("webhook-signature")
	_, err = v.Verify(context.Background(), unsigned, []byte(body))
	require.ErrorIs(t, err, receiver.ErrSignature)
}

func TestHandlerAnswers(t *testing.T) {
	t.Parallel()
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	now := time.Now()
	v, err := receiver.New(receiver.Config{WebhookSecrets: []string{secret}})
	require.NoError(t, err)
	var got []string
	h := v.Handler(func(_ context.Context, p receiver.Push) error {
		if string(p.Body) == "fail" {
			return io.ErrUnexpectedEOF
		}
		got = append(got, string(p.Body))
		return nil
	})
	tests := []struct {
		name string
		req  *http.Request
		want int
	}{
		{"verified SIMPLIFIED push", webhookPush(t, secret, now.Unix(), "hello"), http.StatusNoContent},
		{"handler fails: herald retries", webhookPush(t, secret, now.Unix(), "fail"), http.StatusInternalServerError},
		{"bad signature", webhookPush(t, "whsec_"+base64.StdEncoding.EncodeToString([]byte("another secret of 24 bytes")), now.Unix(), "x"), http.StatusForbidden},
		{"not a push", httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader("x")), http.StatusForbidden},
		{"GET", httptest.NewRequest(http.MethodGet, "/hook", nil), http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, tt.req)
		require.Equal(t, tt.want, w.Code, tt.name)
	}
	require.Equal(t, []string{"hello"}, got)

	plain, err := receiver.New(receiver.Config{})
	require.NoError(t, err)
	w := httptest.NewRecorder()
	plain.Handler(func(context.Context, receiver.Push) error { return nil }).ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader("x")))
	require.Equal(t, http.StatusBadRequest, w.Code, "no herald headers")
}
