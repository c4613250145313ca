package push_test

import (
	"crypto/md5" //nolint:gosec // checking the protocol's MD5 fields
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/push"
	"github.com/herald-mq/herald/internal/push/mnssign"
)

// crlf turns a readable request (lines ending "\n") into wire form; the body
// after the blank line is appended as is.
func crlf(head, body string) string {
	return strings.ReplaceAll(head, "\n", "\r\n") + "\r\n" + body
}

func md5hex(b string) string {
	sum := md5.Sum([]byte(b)) //nolint:gosec // protocol-mandated
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

func TestCMQWireBytes(t *testing.T) {
	t.Parallel()
	const jsonBody = `{"TopicOwner":100015036,"topicName":"MyTopic","subscriptionName":"mysubscription","msgId":"6942316962","msgBody":"test message","publishTime":1680079287}`
	tests := []struct {
		name   string
		format push.Format
		tags   []string
		body   string
		tagHdr string
	}{
		{"JSON, the seed's example", push.FormatJSON, []string{"a", "b"}, jsonBody, "x-cmq-message-tag: a, b\n"},
		{"JSON is the default", "", []string{"a", "b"}, jsonBody, "x-cmq-message-tag: a, b\n"},
		{"SIMPLIFIED", push.FormatSimplified, []string{"a", "b"}, "test message", "x-cmq-message-tag: a, b\n"},
		{"no tags, no tag header", push.FormatSimplified, nil, "test message", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newRawServer(t, 200)
			p := newPusher(t, push.Config{})
			m := fixtureMessage()
			m.Tags = tt.tags
			o := p.Push(t.Context(), &push.Job{Message: m, Target: push.Target{URL: srv.URL + "/cgi", Format: tt.format}, Attempt: push.Attempt{Number: 1}})
			require.True(t, o.Delivered(), "%+v", o)
			require.Equal(t, 200, o.Code)
			require.Equal(t, fixedRequestID, o.RequestID)

			want := crlf("POST /cgi HTTP/1.1\n"+
				"Host: "+strings.TrimPrefix(srv.URL, "http://")+"\n"+
				"User-Agent: Qcloud Notification Service Agent\n"+
				"Content-Length: "+strconv.Itoa(len(tt.body))+"\n"+
				"Content-Type: text/plain\n"+
				"x-cmq-message-id: 6942316962\n"+
				tt.tagHdr+
				"x-cmq-request-id: 6423F9B7BF94313030AF5EA0\n", tt.body)
			require.Equal(t, want, srv.next(t).Raw)
		})
	}
}

func TestCMQJSONEscaping(t *testing.T) {
	t.Parallel()
	srv := newRawServer(t, 204)
	p := newPusher(t, push.Config{})
	m := fixtureMessage()
	m.Body = []byte("<b>\"Tom\" & \\Jerry</b>\n\t\x01 中文 \u2028 \xff")
	o := p.Push(t.Context(), &push.Job{Message: m, Target: push.Target{URL: srv.URL}})
	require.True(t, o.Delivered())
	r := srv.next(t)
	require.Equal(t, "POST / HTTP/1.1", r.Line)
	require.Contains(t, string(r.Body), `"msgBody":"<b>\"Tom\" & \\Jerry</b>\n\t\u0001 中文 \u2028 \ufffd"`)
	var got struct {
		TopicOwner  int64
		MsgBody     string `json:"msgBody"`
		PublishTime int64  `json:"publishTime"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &got))
	require.Equal(t, int64(100015036), got.TopicOwner)
	require.Equal(t, "<b>\"Tom\" & \\Jerry</b>\n\t\x01 中文 \u2028 \uFFFD", got.MsgBody)
	require.Equal(t, publishTime.Unix(), got.PublishTime)
}

func TestMNSWireBytes(t *testing.T) {
	t.Parallel()
	const xmlBody = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n" +
		`<Notification xmlns="http://mns.aliyuncs.com/doc/v1/">` +
		`<TopicOwner>100015036</TopicOwner><TopicName>MyTopic</TopicName><Subscriber>100015036</Subscriber>` +
		`<SubscriptionName>mysubscription</SubscriptionName><MessageId>6942316962</MessageId>` +
		`<Message>test message</Message><MessageMD5>C72B9698FA1927E1DD12D3CF26ED84B2</MessageMD5>` +
		`<MessageTag>a, b</MessageTag><PublishTime>1680079287576</PublishTime></Notification>`
	const jsonBody = `{"TopicOwner":"100015036","TopicName":"MyTopic","Subscriber":"100015036",` +
		`"SubscriptionName":"mysubscription","MessageId":"6942316962","Message":"test message",` +
		`"MessageMD5":"C72B9698FA1927E1DD12D3CF26ED84B2","MessageTag":"a, b","PublishTime":"1680079287576"}`
	tests := []struct {
		name    string
		target  push.Target
		path    string
		ctype   string
		body    string
		simpHdr string
	}{
		{"XML implies MNS", push.Target{Format: push.FormatXML}, "/notifications", "text/xml;charset=utf-8", xmlBody, ""},
		{"MNS defaults to XML", push.Target{Dialect: push.DialectMNS}, "/notifications", "text/xml;charset=utf-8", xmlBody, ""},
		{"MNS JSON", push.Target{Dialect: push.DialectMNS, Format: push.FormatJSON}, "/notifications", "application/json;charset=utf-8", jsonBody, ""},
		{
			"MNS SIMPLIFIED", push.Target{Dialect: push.DialectMNS, Format: push.FormatSimplified}, "/notifications",
			"text/plain;charset=utf-8", "test message", "x-mns-message-id: 6942316962\nx-mns-message-tag: a, b\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			keys := certServer(t)
			srv := newRawServer(t, 204)
			p := newPusher(t, push.Config{Signer: keys})
			tgt := tt.target
			tgt.URL = srv.URL
			o := p.Push(t.Context(), &push.Job{Message: fixtureMessage(), Target: tgt, Attempt: push.Attempt{Number: 1}})
			require.True(t, o.Delivered(), "%+v", o)
			require.Equal(t, 204, o.Code)
			r := srv.next(t)

			auth, ok := r.header("Authorization")
			require.True(t, ok)
			want := crlf("POST "+tt.path+" HTTP/1.1\n"+
				"Host: "+strings.TrimPrefix(srv.URL, "http://")+"\n"+
				"User-Agent: Aliyun Notification Service Agent\n"+
				"Content-Length: "+strconv.Itoa(len(tt.body))+"\n"+
				"Authorization: "+auth+"\n"+
				"Content-Type: "+tt.ctype+"\n"+
				"Content-md5: "+md5hex(tt.body)+"\n"+
				"Date: Wed, 29 Mar 2023 08:41:27 GMT\n"+
				tt.simpHdr+
				"x-mns-publish-time: 1680079287576\n"+
				"x-mns-request-id: 6423F9B7BF94313030AF5EA0\n"+
				"x-mns-signing-cert-url: "+base64.StdEncoding.EncodeToString([]byte(keys.SigningKey().CertURL))+"\n"+
				"x-mns-subscriber: 100015036\n"+
				"x-mns-subscription-name: mysubscription\n"+
				"x-mns-topic-name: MyTopic\n"+
				"x-mns-topic-owner: 100015036\n"+
				"x-mns-version: 2015-06-06\n", tt.body)
			require.Equal(t, want, r.Raw)
			require.NoError(t, verifyMNS(r, fetchCert))
		})
	}
}

func TestMNSBodiesParse(t *testing.T) {
	t.Parallel()
	keys := certServer(t)
	srv := newRawServer(t, 201)
	p := newPusher(t, push.Config{Signer: keys})
	m := fixtureMessage()
	m.Body = []byte("<a href=\"x\">Tom & 'Jerry'</a>\r\n\t]]> 中文 \x00")
	m.Tags = nil
	m.Subscriber = "1321669497458181"

	o := p.Push(t.Context(), &push.Job{Message: m, Target: push.Target{URL: srv.URL + "/hook?a=1&b=%20", Format: push.FormatXML}})
	require.True(t, o.Delivered(), "%+v", o)
	r := srv.next(t)
	require.Equal(t, "POST /hook?a=1&b=%20 HTTP/1.1", r.Line, "the endpoint's own path and query replace /notifications")
	require.NoError(t, verifyMNS(r, fetchCert))
	require.NotContains(t, string(r.Body), "MessageTag")
	var n struct {
		XMLName          xml.Name `xml:"http://mns.aliyuncs.com/doc/v1/ Notification"`
		TopicOwner       string
		TopicName        string
		Subscriber       string
		SubscriptionName string
		MessageID        string `xml:"MessageId"`
		Message          string
		MessageMD5       string
		PublishTime      int64
	}
	require.NoError(t, xml.Unmarshal(r.Body, &n))
	require.Equal(t, "<a href=\"x\">Tom & 'Jerry'</a>\r\n\t]]> 中文 \uFFFD", n.Message, "escaped, \\r kept, NUL replaced")
	require.Equal(t, md5hex(string(m.Body)), n.MessageMD5, "MD5 of the body as published")
	require.Equal(t, "1321669497458181", n.Subscriber)
	require.Equal(t, "100015036", n.TopicOwner)
	require.Equal(t, publishTime.UnixMilli(), n.PublishTime)

	o = p.Push(t.Context(), &push.Job{Message: m, Target: push.Target{URL: srv.URL + "/", Dialect: push.DialectMNS, Format: push.FormatJSON}})
	require.True(t, o.Delivered())
	r = srv.next(t)
	require.Equal(t, "POST / HTTP/1.1", r.Line, "an explicit / is the endpoint's path")
	require.NoError(t, verifyMNS(r, fetchCert))
	var j map[string]string // every value a string
	require.NoError(t, json.Unmarshal(r.Body, &j))
	require.Equal(t, string(m.Body), j["Message"], "JSON carries even NUL")
	require.Equal(t, "1680079287576", j["PublishTime"])
	require.NotContains(t, j, "MessageTag")

	o = p.Push(t.Context(), &push.Job{Message: m, Target: push.Target{URL: srv.URL, Dialect: push.DialectMNS, Format: push.FormatSimplified}})
	require.True(t, o.Delivered())
	r = srv.next(t)
	require.Equal(t, string(m.Body), string(r.Body), "SIMPLIFIED sends the body untouched")
	_, hasTag := r.header("x-mns-message-tag")
	require.False(t, hasTag)
	require.NoError(t, verifyMNS(r, fetchCert))
}

func TestMNSSignatureAcrossRotation(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	certs := httptest.NewServer(mux)
	t.Cleanup(certs.Close)
	clk := clock.NewFake(pushTime)
	keys, err := mnssign.Open(t.Context(), mnssign.Config{Store: &mnssign.MemStore{}, BaseURL: certs.URL, Clock: clk, Overlap: time.Hour, Logger: quiet})
	require.NoError(t, err)
	mux.Handle("/mns/", keys.Handler())
	srv := newRawServer(t, 204)
	p := newPusher(t, push.Config{Signer: keys, Clock: clk})
	j := &push.Job{Message: fixtureMessage(), Target: push.Target{URL: srv.URL, Format: push.FormatXML}}

	require.True(t, p.Push(t.Context(), j).Delivered())
	before := srv.next(t)
	require.NoError(t, keys.Rotate(t.Context()))
	require.True(t, p.Push(t.Context(), j).Delivered())
	after := srv.next(t)

	certURL := func(r rawRequest) string { v, _ := r.header("x-mns-signing-cert-url"); return v }
	require.NotEqual(t, certURL(before), certURL(after), "the new key signs at once")
	require.NoError(t, verifyMNS(before, fetchCert), "the old certificate is still served")
	require.NoError(t, verifyMNS(after, fetchCert))

	clk.Advance(time.Hour)
	require.ErrorContains(t, verifyMNS(before, fetchCert), "404", "gone after the overlap")
	require.NoError(t, verifyMNS(after, fetchCert))
}
