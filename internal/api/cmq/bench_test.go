package cmq_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/herald-mq/herald/internal/api/cmq"
)

// BenchmarkRequestOverhead is the API's cost per request that is not the
// action's own work: form parse, signature check, the nonce recorded in the
// engine and the envelope, measured on ListTopic, which reads only the
// in-memory index.
func BenchmarkRequestOverhead(b *testing.B) {
	a := newAPI(b)
	a.ok("CreateTopic", "topicName", "t")
	benchRequests(b, a, map[string]string{"Action": "ListTopic", "searchWord": "t"})
}

func BenchmarkParseForm(b *testing.B) {
	body := "Action=SendMessage&Nonce=12345&RequestClient=SDK_Python_1.3&SecretId=AKIDtest&SignatureMethod=HmacSHA1&Timestamp=1700000000&delaySeconds=0&msgBody=hello+world%26x%3D1&queueName=q1&Signature=sPg7RaV%2F%2FlVJpQ%2FWukXabNokRco%3D"
	b.ReportAllocs()
	for range b.N {
		if _, err := cmq.ParseForm(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBatchPublish is one BatchPublishMessage of 16 × 256 B through the
// handler into the engine: what the API costs a publisher per request.
func BenchmarkBatchPublish(b *testing.B) {
	a := newAPI(b)
	a.ok("CreateTopic", "topicName", "t")
	a.ok("Subscribe", "topicName", "t", "subscriptionName", "s", "protocol", "http", "endpoint", "http://e.example")
	params := map[string]string{"Action": "BatchPublishMessage", "topicName": "t"}
	for i := range 16 {
		params["msgBody."+strconv.Itoa(i+1)] = strings.Repeat("m", 256)
	}
	benchRequests(b, a, params)
}

// benchRequests serves b.N signed POSTs of params (each with its own nonce,
// signed before the timer starts) and checks that the last one succeeded.
func benchRequests(b *testing.B, a *api, params map[string]string) {
	b.Helper()
	bodies := make([]string, b.N)
	for i := range bodies {
		bodies[i] = a.signed(http.MethodPost, params)
	}
	w := httptest.NewRecorder()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r := httptest.NewRequest(http.MethodPost, "/v2/index.php", strings.NewReader(bodies[i]))
		r.Host = testHost
		w.Body.Reset()
		a.h.ServeHTTP(w, r)
	}
	b.StopTimer()
	if !strings.Contains(w.Body.String(), `"code":0`) {
		b.Fatal(w.Body.String())
	}
}
