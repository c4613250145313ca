package mns_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"testing"
	"time"
)

// chunks hands out data n bytes at a time, as a network may.
type chunks struct {
	data []byte
	n    int
}

func (c *chunks) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	k := min(len(p), c.n, len(c.data))
	copy(p, c.data[:k])
	c.data = c.data[k:]
	return k, nil
}

// FuzzRequest reads whole HTTP requests, arriving in chunks, and serves
// them: signed seeds reach the services, mutations meet the header, auth and
// body parsers. Every answer is an MNS answer.
func FuzzRequest(f *testing.F) {
	a := newAPI(f)
	c := a.client()
	a.serve(c.request("PUT", "/queues/q", ""))
	a.serve(c.request("PUT", "/topics/t", ""))
	for _, r := range []*http.Request{
		c.request("POST", "/queues/q/messages", `<Message><MessageBody>hi</MessageBody><Priority>3</Priority></Message>`),
		c.request("GET", "/queues/q/messages?numOfMessages=2&peekonly=true", ""),
		c.request("DELETE", "/queues/q/messages", `<ReceiptHandles><ReceiptHandle>x</ReceiptHandle></ReceiptHandles>`),
		c.request("PUT", "/topics/t/subscriptions/s?metaoverride=true", `<Subscription><NotifyStrategy>BACKOFF_RETRY</NotifyStrategy></Subscription>`),
	} {
		raw, err := httputil.DumpRequest(r, true)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw, uint8(5))
	}
	f.Add([]byte("GET /queues HTTP/1.1\r\nHost: h\r\nx-mns-version: 2015-06-06\r\nAuthorization: MNS a:b\r\nDate: x\r\n\r\n"), uint8(1))
	f.Fuzz(func(t *testing.T, raw []byte, n uint8) {
		r, err := http.ReadRequest(bufio.NewReader(&chunks{raw, int(n%32) + 1}))
		if err != nil {
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		// A long poll would stall the fuzzer.
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		r = r.WithContext(ctx)
		w := httptest.NewRecorder()
		a.h.ServeHTTP(w, r)
		if w.Header().Get("x-mns-request-id") == "" || w.Code < 200 || w.Code > 599 {
			t.Fatalf("answer %d without a request id", w.Code)
		}
		if w.Body.Len() > 0 && !strings.HasPrefix(w.Body.String(), xmlDecl) {
			t.Fatalf("answer not an XML document: %q", w.Body.String())
		}
		if w.Code == http.StatusInternalServerError && strings.Contains(w.Body.String(), "<Code>InternalError</Code>") {
			t.Fatalf("internal error for %q: %s", raw, w.Body.String())
		}
	})
}
