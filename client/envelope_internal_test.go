package client

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestScanEnvelope(t *testing.T) {
	t.Parallel()
	code := func(n int) *int { return &n }
	cases := []struct {
		in      string
		scanned bool
		want    envelope
	}{
		{`{"code":0,"message":"","requestId":"r1","msgList":[{"msgId":"a"},{"msgId":"b"}]}`, true,
			envelope{Code: code(0), RequestID: json.RawMessage(`"r1"`)}},
		{` { "msgList" : [ "}" , {"x":"]"} ] , "requestId" : 42 , "code" : -4440 , "message" : "(10100)no" } `, true,
			envelope{Code: code(-4440), Message: "(10100)no", RequestID: json.RawMessage(`42`)}},
		{`{"code":1,"code":2,"clientRequestId":"c","message":null}`, true,
			envelope{Code: code(2), ClientRequestID: json.RawMessage(`"c"`)}},
		{`{}`, true, envelope{}},
		{`{"code":null}`, true, envelope{}},
		// Left to encoding/json.
		{`{"Code":0}`, false, envelope{}},
		{`{"c\u006fde":0}`, false, envelope{}},
		{`{"code":1e3}`, false, envelope{}},
		{`{"code":"0"}`, false, envelope{}},
		{`{"code":-0}`, false, envelope{}},
		{`{"code":0,"message":"a\"b"}`, false, envelope{}},
		{`{"code":0,"message":"你"}`, false, envelope{}},
		{`{"code":0}x`, false, envelope{}},
		{`[]`, false, envelope{}},
		{`null`, false, envelope{}},
		{`{"code":0,`, false, envelope{}},
		{``, false, envelope{}},
	}
	for _, tc := range cases {
		got, scanned := scanEnvelope([]byte(tc.in))
		require.Equal(t, tc.scanned, scanned, tc.in)
		if scanned {
			require.Equal(t, tc.want, got, tc.in)
		}
	}
}

// FuzzScanEnvelope: on valid JSON, whatever scanEnvelope reads is what
// encoding/json decodes, and it leaves to encoding/json what that refuses.
func FuzzScanEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"code":0,"message":"","requestId":"r1","msgList":[{"msgId":"a"}]}`,
		`{"code":4440,"message":"(10100)queue is not existed, or deleted","requestId":12,"clientRequestId":"x"}`,
		`{"CODE":1,"Message":"m"}`, `{"code":01}`, `{"code":"1"}`, `{"message":5}`, `{"a":{"b":["c",{"d":"\""}]}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, scanned := scanEnvelope([]byte(s))
		if !scanned || !json.Valid([]byte(s)) {
			return
		}
		var want envelope
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			t.Fatalf("scanned %q, which encoding/json refuses: %v", s, err)
		}
		if (got.Code == nil) != (want.Code == nil) || got.Code != nil && *got.Code != *want.Code ||
			got.Message != want.Message || string(got.RequestID) != string(want.RequestID) ||
			string(got.ClientRequestID) != string(want.ClientRequestID) {
			t.Fatalf("%q: scanned %+v, encoding/json %+v", s, got, want)
		}
	})
}
