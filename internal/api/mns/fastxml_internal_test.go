package mns

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPlainDocuments(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body string
		ok   bool
		want string // MessageBody when ok
	}{
		{`<Message><MessageBody>hi</MessageBody></Message>`, true, "hi"},
		{`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Message xmlns="http://mns.aliyuncs.com/doc/v1/"><MessageBody>a &amp; &#60;b&#x3E; &quot;c&apos;</MessageBody><Priority>8</Priority></Message>`, true, `a & <b> "c'`},
		{"<Message>\n\t<MessageBody>你好</MessageBody>\n</Message>\n", true, "你好"},
		{`<Message><MessageBody/></Message>`, true, ""},
		{`<Message><Unknown>x</Unknown></Message>`, true, ""},
		{`<Message><MessageBody>a</MessageBody><MessageBody>b</MessageBody></Message>`, false, ""},
		{`<Message><MessageBody><![CDATA[x]]></MessageBody></Message>`, false, ""},
		{`<Message><!-- c --><MessageBody>x</MessageBody></Message>`, false, ""},
		{`<Message><MessageBody>a` + "\r\n" + `b</MessageBody></Message>`, false, ""},
		{`<m:Message xmlns:m="x"><MessageBody>x</MessageBody></m:Message>`, false, ""},
		{`<Message a="b"><MessageBody>x</MessageBody></Message>`, false, ""},
		{`<?xml version="1.1"?><Message/>`, false, ""},
		{`<Message><MessageBody>&nbsp;</MessageBody></Message>`, false, ""},
		{`<Message><MessageBody>x</MessageBody></Message><Message/>`, false, ""},
		{`<Message><MessageBody>x</MessageBody>`, false, ""},
		{`<Messages/>`, false, ""},
	} {
		m, ok := fastMessage([]byte(tc.body))
		require.Equal(t, tc.ok, ok, tc.body)
		if ok {
			require.Equal(t, tc.want, m.MessageBody, tc.body)
		}
	}
	ms, ok := fastMessages([]byte(`<Messages><Message><MessageBody>a</MessageBody><DelaySeconds>3</DelaySeconds></Message><Message><MessageBody>b</MessageBody></Message></Messages>`))
	require.True(t, ok)
	require.Len(t, ms.Messages, 2)
	require.Equal(t, "3", *ms.Messages[0].DelaySeconds)
	require.Nil(t, ms.Messages[1].DelaySeconds)
	hs, ok := fastHandles([]byte(`<ReceiptHandles><ReceiptHandle>a-1</ReceiptHandle><ReceiptHandle>b_2</ReceiptHandle></ReceiptHandles>`))
	require.True(t, ok)
	require.Equal(t, []string{"a-1", "b_2"}, hs.Handles)
}

func benchBatch() []byte {
	var b strings.Builder
	b.WriteString("<Messages>")
	for range 16 {
		b.WriteString("<Message><MessageBody>queue message body 000001, about sixty bytes of payload....</MessageBody><DelaySeconds>0</DelaySeconds><Priority>8</Priority></Message>")
	}
	b.WriteString("</Messages>")
	return []byte(b.String())
}

func BenchmarkBatchSendBody(b *testing.B) {
	body := benchBatch()
	b.Run("plain", func(b *testing.B) {
		for b.Loop() {
			if _, ok := fastMessages(body); !ok {
				b.Fatal("not plain")
			}
		}
	})
	b.Run("encoding/xml", func(b *testing.B) {
		for b.Loop() {
			var in messagesIn
			if err := decode(body, "Messages", &in); err != nil {
				b.Fatal(err)
			}
		}
	})
}
