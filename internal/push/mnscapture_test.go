//go:debug rsa1024min=0

// The real MNS push of wire.md §2.8 is signed with Alibaba's 512-bit test
// key, which Go refuses since 1.24 unless rsa1024min=0. That setting is for
// this capture only: herald's own keys are 2048-bit (mnssign.MinBits).

package push_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/push"
)

const captureCertURL = "https://mnstest.oss-cn-hangzhou.aliyuncs.com/x509_public_certificate.pem"

const captureCert = `-----BEGIN CERTIFICATE-----
MIICiDCCAjKgAwIBAgIJAL+acWZrTrlfMA0GCSqGSIb3DQEBBQUAMGMxCzAJBgNV
BAYTAjg2MREwDwYDVQQIEwhaaGVqaWFuZzERMA8GA1UEBxMISGFuZ3pob3UxDzAN
BgNVBAoTBkFsaXl1bjEMMAoGA1UECxMDTW5zMQ8wDQYDVQQDEwZub3RpZnkwHhcN
MTUwNzAyMDIwNjE2WhcNMTYwNzAxMDIwNjE2WjBjMQswCQYDVQQGEwI4NjERMA8G
A1UECBMIWmhlamlhbmcxETAPBgNVBAcTCEhhbmd6aG91MQ8wDQYDVQQKEwZBbGl5
dW4xDDAKBgNVBAsTA01uczEPMA0GA1UEAxMGbm90aWZ5MFwwDQYJKoZIhvcNAQEB
BQADSwAwSAJBALX0sFVowct1NAQjDyYSUf0rp1rOHLkz4kp0zNWcDyXMXa5PzsPU
UwJXaLwhvNCDLLWuiLK6Oh5elmOmL8Gy/5MCAwEAAaOByDCBxTAdBgNVHQ4EFgQU
kEah2o9HpCUCxhN/fY3kUtPkP4owgZUGA1UdIwSBjTCBioAUkEah2o9HpCUCxhN/
fY3kUtPkP4qhZ6RlMGMxCzAJBgNVBAYTAjg2MREwDwYDVQQIEwhaaGVqaWFuZzER
MA8GA1UEBxMISGFuZ3pob3UxDzANBgNVBAoTBkFsaXl1bjEMMAoGA1UECxMDTW5z
MQ8wDQYDVQQDEwZub3RpZnmCCQC/mnFma065XzAMBgNVHRMEBTADAQH/MA0GCSqG
SIb3DQEBBQUAA0EAluPg+k0Fc7WRcpP78+eLptYD8an7YOapUdNUmT2/SQC5BZ+t
cyWFit5pAEipngFL105d7AuW2AtwqG0FgV0ipw==
-----END CERTIFICATE-----
`

// capture is the real MNS SIMPLIFIED push of wire.md §2.8, header names as
// MNS sends them.
func capture() rawRequest {
	return rawRequest{
		Line: "POST /notifications HTTP/1.1",
		Headers: [][2]string{
			{"Authorization", "LP3cxoTCbhsiLJi0KQdEiRaufaxMfWUdLH064yoVoKl8xNcY+299itGmGsirVMY8vDpuZ1VwS0Uw7R5dNduSXg=="},
			{"Content-md5", "4CCBAD7AF2D23C2D00DDECCA59323A8C"},
			{"Content-Type", "text/plain;charset=utf-8"},
			{"Date", "Wed, 29 Mar 2023 08:41:27 GMT"},
			{"x-mns-message-id", "250EB49D5F8D737A391C93C6ED165396"},
			{"x-mns-publish-time", "1680079287576"},
			{"x-mns-request-id", "6423F9B7BF94313030AF5EA0"},
			{"x-mns-signing-cert-url", "aHR0cHM6Ly9tbnN0ZXN0Lm9zcy1jbi1oYW5nemhvdS5hbGl5dW5jcy5jb20veDUwOV9wdWJsaWNfY2VydGlmaWNhdGUucGVt"},
			{"x-mns-subscriber", "1321669497458181"},
			{"x-mns-subscription-name", "mns-en-subs-oss-fecdn-internal-pre-1-22849529855680"},
			{"x-mns-topic-name", "mns-en-topics-oss-fecdn-internal-pre-22849529792243"},
			{"x-mns-topic-owner", "1321669497458181"},
			{"x-mns-version", "2015-06-06"},
		},
	}
}

func captureCerts(url string) ([]byte, error) {
	if url != captureCertURL {
		return nil, fmt.Errorf("unexpected certificate URL %q", url)
	}
	return []byte(captureCert), nil
}

func TestRealMNSCaptureVerifies(t *testing.T) {
	t.Parallel()
	require.NoError(t, verifyMNS(capture(), captureCerts), "the verifier accepts a real MNS push")

	// and it is not a verifier that accepts anything:
	for i, kv := range capture().Headers {
		if kv[0] == "Authorization" {
			continue
		}
		r := capture()
		r.Headers[i][1] += "0"
		require.Error(t, verifyMNS(r, captureCerts), "changed %s", kv[0])
	}
	r := capture()
	r.Line = "POST /notifications?x=1 HTTP/1.1"
	require.Error(t, verifyMNS(r, captureCerts), "changed resource")
}

// TestSimplifiedLikeCapture pushes the capture's message through herald and
// checks that the same headers come out, with the same values except those
// tied to the key and the body.
func TestSimplifiedLikeCapture(t *testing.T) {
	t.Parallel()
	keys := certServer(t)
	srv := newRawServer(t, 204)
	p := newPusher(t, push.Config{Signer: keys, Clock: clock.NewFake(time.Date(2023, 3, 29, 8, 41, 27, 0, time.UTC))})
	o := p.Push(t.Context(), &push.Job{
		Message: push.Message{
			TopicOwner:       1321669497458181,
			TopicName:        "mns-en-topics-oss-fecdn-internal-pre-22849529792243",
			SubscriptionName: "mns-en-subs-oss-fecdn-internal-pre-1-22849529855680",
			ID:               "250EB49D5F8D737A391C93C6ED165396",
			Body:             []byte("{}"),
			PublishTime:      time.UnixMilli(1680079287576),
		},
		Target: push.Target{URL: srv.URL, Dialect: push.DialectMNS, Format: push.FormatSimplified},
	})
	require.True(t, o.Delivered(), "%+v", o)
	got := srv.next(t)
	require.NoError(t, verifyMNS(got, fetchCert))

	signed := func(r rawRequest) map[string]string {
		m := map[string]string{}
		for _, kv := range r.Headers {
			if strings.HasPrefix(kv[0], "x-mns-") || kv[0] == "Content-Type" || kv[0] == "Date" || kv[0] == "Content-md5" || kv[0] == "Authorization" {
				m[kv[0]] = kv[1]
			}
		}
		return m
	}
	want, have := signed(capture()), signed(got)
	names := func(m map[string]string) []string {
		var n []string
		for k := range m {
			n = append(n, k)
		}
		sort.Strings(n)
		return n
	}
	require.Equal(t, names(want), names(have), "the same signed header names, same case")
	for _, k := range []string{"Authorization", "Content-md5", "x-mns-signing-cert-url"} {
		delete(want, k)
		delete(have, k)
	}
	require.Equal(t, want, have)
}
