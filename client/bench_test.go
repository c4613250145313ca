package client_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/herald-mq/herald/client"
)

// answer is a RoundTripper that reads the request and returns a fixed body,
// so that a benchmark measures the client alone.
type answer string

func (a answer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader(string(a))), Request: r}, nil
}

// BenchmarkBatchPublishMessage is the client's side of a BatchPublishMessage
// of 16 × 256 B: encoding, signing and decoding the answer.
func BenchmarkBatchPublishMessage(b *testing.B) {
	var resp strings.Builder
	resp.WriteString(`{"code":0,"message":"","requestId":"8520385036283628","msgList":[`)
	for i := range 16 {
		if i > 0 {
			resp.WriteByte(',')
		}
		resp.WriteString(`{"msgId":"0123456789ABCDEF0123456789ABCDEF"}`)
	}
	resp.WriteString(`]}`)
	c, err := client.New("http://"+testHost, testSecretID, testSecretKey, client.WithHTTPClient(&http.Client{Transport: answer(resp.String())}))
	if err != nil {
		b.Fatal(err)
	}
	req := client.BatchPublishMessageRequest{TopicName: "publish"}
	for range 16 {
		req.MsgBodies = append(req.MsgBodies, strings.Repeat("m", 256))
	}
	b.ReportAllocs()
	for b.Loop() {
		r, err := c.BatchPublishMessage(b.Context(), req)
		if err != nil || len(r.MsgList) != 16 {
			b.Fatal(r, err)
		}
	}
}
