package mns

import (
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/herald-mq/herald/internal/queue"
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

// FuzzXMLBody feeds request documents, in chunks, to every body the API
// reads; each must parse or be refused with an MNS error, never panic.
func FuzzXMLBody(f *testing.F) {
	for _, s := range []string{
		`<?xml version="1.0" encoding="UTF-8"?><Message xmlns="http://mns.aliyuncs.com/doc/v1/"><MessageBody>hello</MessageBody><DelaySeconds>0</DelaySeconds><Priority>8</Priority></Message>`,
		`<Messages><Message><MessageBody>a</MessageBody></Message><Message><MessageBody/><Priority>17</Priority></Message></Messages>`,
		`<Queue><DelaySeconds>5</DelaySeconds><VisibilityTimeout>x</VisibilityTimeout><LoggingEnabled>True</LoggingEnabled></Queue>`,
		`<ReceiptHandles><ReceiptHandle>abc</ReceiptHandle></ReceiptHandles>`,
		`<Subscription><Endpoint>acs:mns:cn-hangzhou:1:queues/q</Endpoint><FilterTag>t</FilterTag></Subscription>`,
		`<Message><MessageBody>&amp;&#x1;</MessageBody>`, `<Queue/><Queue/>`,
		`<?xml version="1.0"?><Message><MessageBody>&#20320;&lt;&#x597D;&gt; é</MessageBody><Priority> 3 </Priority><Other/></Message>`,
	} {
		f.Add([]byte(s), uint8(7))
	}
	f.Fuzz(func(t *testing.T, body []byte, n uint8) {
		step := int(n%64) + 1
		read := func(root string, v any) error { return decodeFrom(&chunks{body, step}, root, v) }
		wantWire := func(err error) {
			if err == nil {
				return
			}
			if _, unexpected := wireError(err); unexpected {
				t.Fatalf("not an MNS error: %v", err)
			}
		}
		var m messageIn
		if err := read("Message", &m); err == nil {
			o, err := m.outgoing()
			wantWire(err)
			if err == nil && (len(o.Body) == 0 || o.Priority < 0 || o.Priority > maxPriority || o.Priority == defaultPriority) {
				t.Fatalf("accepted %+v", o)
			}
		} else {
			wantWire(err)
		}
		var ms messagesIn
		wantWire(read("Messages", &ms))
		var qa queueAttrs
		if err := read("Queue", &qa); err == nil {
			var q queue.Queue
			wantWire(qa.apply(&q, true))
		}
		var rh receiptHandlesIn
		wantWire(read("ReceiptHandles", &rh))
		var sub subscriptionIn
		wantWire(read("Subscription", &sub))
		_, err := rootName(body)
		wantWire(err)

		// The plain-document parser agrees with encoding/xml wherever it
		// answers.
		if fm, ok := fastMessage(body); ok {
			var want messageIn
			if err := decode(body, "Message", &want); err != nil {
				t.Fatalf("fast path read what encoding/xml refuses (%v): %+v", err, fm)
			}
			requireSameMessages(t, []messageIn{want}, []messageIn{fm})
		}
		if fms, ok := fastMessages(body); ok {
			var want messagesIn
			if err := decode(body, "Messages", &want); err != nil {
				t.Fatalf("fast path read what encoding/xml refuses (%v): %+v", err, fms)
			}
			requireSameMessages(t, want.Messages, fms.Messages)
		}
		if fh, ok := fastHandles(body); ok {
			var want receiptHandlesIn
			if err := decode(body, "ReceiptHandles", &want); err != nil {
				t.Fatalf("fast path read what encoding/xml refuses (%v): %+v", err, fh)
			}
			if !slices.Equal(want.Handles, fh.Handles) {
				t.Fatalf("handles: encoding/xml %q, fast path %q", want.Handles, fh.Handles)
			}
		}
	})
}

func requireSameMessages(t *testing.T, want, got []messageIn) {
	t.Helper()
	str := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return "=" + *p
	}
	if len(want) != len(got) {
		t.Fatalf("encoding/xml read %d messages, the fast path %d", len(want), len(got))
	}
	for i := range want {
		w, g := want[i], got[i]
		if w.MessageBody != g.MessageBody || str(w.DelaySeconds) != str(g.DelaySeconds) || str(w.Priority) != str(g.Priority) {
			t.Fatalf("message %d: encoding/xml %q %s %s, fast path %q %s %s", i, w.MessageBody, str(w.DelaySeconds), str(w.Priority),
				g.MessageBody, str(g.DelaySeconds), str(g.Priority))
		}
	}
}

// FuzzAuthHeaders feeds the header parsers: Authorization, the query string
// and the string to sign.
func FuzzAuthHeaders(f *testing.F) {
	f.Add("MNS testAK:ys/V7bscPJNCOEH8IxNUz6kPKoc=", "ReceiptHandle=a+b%2F&waitseconds=10", "x-mns-prefix", " q ")
	f.Add("MNS :", "a=%zz", "X-Mns-Ret-Number", "10")
	f.Add("Basic x", "&&=&a", "Content-MD5", "")
	f.Fuzz(func(t *testing.T, auth, rawQuery, name, value string) {
		cred, err := parseAuthorization(auth)
		if err == nil && (cred.AccessKeyID == "" || cred.Signature == "") {
			t.Fatalf("accepted %q as %+v", auth, cred)
		}
		if q, err := parseQuery(rawQuery); err == nil {
			_, _ = q.intParam("waitseconds", "waitseconds", 0, maxWaitSeconds, -1)
		}
		h := http.Header{}
		h[name] = []string{value}
		_ = stringToSign(http.MethodGet, h, "/queues")
		_, _ = http.ParseTime(value)
	})
}
