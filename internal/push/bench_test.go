package push_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/push"
)

// BenchmarkSign is the RSA cost of one MNS push: SHA1withRSA with a
// 2048-bit key over a typical string to sign.
func BenchmarkSign(b *testing.B) {
	key := certServer(b).SigningKey()
	sts := []byte("POST\nC72B9698FA1927E1DD12D3CF26ED84B2\ntext/xml;charset=utf-8\nWed, 29 Mar 2023 08:41:27 GMT\n" +
		"x-mns-request-id:6423F9B7BF94313030AF5EA0\nx-mns-signing-cert-url:aHR0cDovL2V4YW1wbGUuY29tL21ucy9jZXJ0cy9hYmMucGVt\n" +
		"x-mns-version:2015-06-06\n/notifications")
	b.ReportAllocs()
	for b.Loop() {
		_, err := key.Sign(sts)
		require.NoError(b, err)
	}
}

// BenchmarkPush is whole pushes against a local receiver over keep-alive
// connections, unsigned (CMQ) against signed (MNS), one at a time and from
// many goroutines.
func BenchmarkPush(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	keys := certServer(b)
	cases := []struct {
		name   string
		target push.Target
	}{
		{"CMQ-JSON", push.Target{URL: srv.URL}},
		{"CMQ-JSON+webhook", push.Target{URL: srv.URL, WebhookSecrets: []string{push.NewWebhookSecret()}}},
		{"MNS-XML-signed", push.Target{URL: srv.URL, Format: push.FormatXML}},
	}
	for _, c := range cases {
		p := newPusher(b, push.Config{Signer: keys, Clock: clock.Real{}, MaxIdleConnsPerHost: 64})
		j := &push.Job{Message: fixtureMessage(), Target: c.target, Attempt: push.Attempt{Number: 1}}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if o := p.Push(b.Context(), j); !o.Delivered() {
					b.Fatalf("%+v", o)
				}
			}
		})
		b.Run(c.name+"-parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if o := p.Push(b.Context(), j); !o.Delivered() {
						b.Errorf("%+v", o)
						return
					}
				}
			})
		})
	}
}
