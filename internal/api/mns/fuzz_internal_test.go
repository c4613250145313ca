package mns

import (
	"io"
	"net/http"
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
			if err == nil && (len(o.Body) == 0 || o.Priority < 1 || o.Priority > maxPriority) {
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
	})
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
