package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"time"
)

// receiver is a subscription's HTTP endpoint on 127.0.0.1. It answers 200
// after delay and records every push in the ledger; a push whose connection
// herald closed before the answer is recorded as arrived, not answered.
type receiver struct {
	name string
	srv  *httptest.Server
}

func newReceiver(name string, delay time.Duration, l *ledger) *receiver {
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		p := l.PushArrived(name, req.Header.Get("x-cmq-message-id"))
		_, _ = io.Copy(io.Discard, req.Body)
		if delay > 0 {
			t := time.NewTimer(delay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-req.Context().Done():
				return // herald gave up on this push (or died): not answered
			}
		}
		if req.Context().Err() != nil {
			return
		}
		w.WriteHeader(http.StatusOK)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		l.Answered(p)
	})
	return &receiver{name: name, srv: httptest.NewServer(h)}
}

// URL is the endpoint to subscribe.
func (r *receiver) URL() string { return r.srv.URL + "/push" }

// Close stops the server once its pushes are answered or abandoned.
func (r *receiver) Close() {
	r.srv.CloseClientConnections()
	r.srv.Close()
}
