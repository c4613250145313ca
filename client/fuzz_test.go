package client_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/client"
)

// FuzzResponse feeds arbitrary bodies to the response decoder: it must
// return a response or an error, never panic, and an *Error only for a
// non-zero code.
func FuzzResponse(f *testing.F) {
	for _, seed := range []string{
		okEnvelope,
		`{"code":0,"message":"","requestId":"r","msgBody":"b","msgId":"m","receiptHandle":"h","enqueueTime":1,"nextVisibleTime":2,"firstDequeueTime":1,"dequeueCount":1}`,
		`{"code":4440,"message":"(10100)queue is not existed, or deleted","requestId":"r"}`,
		`{"code":6010,"message":"(10150)x","requestId":"r","errorList":[{"code":4430,"message":"m","receiptHandle":"h"}]}`,
		`{"code":7000,"message":"(","requestId":1}`,
		`{"code":1,"message":"(99999999999999999999)x"}`,
		`null`, `[]`, ``,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		c, _ := newStubClient(t, http.StatusOK, body)
		res, err := c.ReceiveMessage(t.Context(), client.ReceiveMessageRequest{QueueName: "q", PollingWaitSeconds: new(0)})
		if err == nil {
			require.NotNil(t, res)
		}
		var cmqErr *client.Error
		if errors.As(err, &cmqErr) {
			require.NotZero(t, cmqErr.Code)
		}
		_, _ = c.BatchDeleteMessage(t.Context(), client.BatchDeleteMessageRequest{QueueName: "q", ReceiptHandles: []string{"h"}})
		_, _ = c.GetSubscriptionAttributes(t.Context(), client.GetSubscriptionAttributesRequest{TopicName: "t", SubscriptionName: "s"})
	})
}

// BenchmarkStringToSign is the server's per-request verification cost.
func BenchmarkStringToSign(b *testing.B) {
	params := src1Params(client.HmacSHA1)
	b.ReportAllocs()
	for b.Loop() {
		client.Sign(client.HmacSHA1, testSecretKey, client.StringToSign("POST", testHost, "/v2/index.php", params))
	}
}

func BenchmarkReceiveMessage(b *testing.B) {
	c, _ := newStubClient(b, http.StatusOK,
		`{"code":0,"message":"","requestId":"r","msgBody":"hello","msgId":"m","receiptHandle":"h","enqueueTime":1,"nextVisibleTime":2,"firstDequeueTime":1,"dequeueCount":1}`)
	b.ReportAllocs()
	for b.Loop() {
		_, err := c.ReceiveMessage(b.Context(), client.ReceiveMessageRequest{QueueName: "q", PollingWaitSeconds: new(0)})
		if err != nil {
			b.Fatal(err)
		}
	}
}
