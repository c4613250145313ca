package e2e

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/md5"  //nolint:gosec // the MNS protocol
	"crypto/sha1" //nolint:gosec // the MNS protocol
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/client"
)

// mnsClient speaks the MNS REST API as the Go SDK does (wire.md §2.1–2.2),
// over real HTTP.
type mnsClient struct {
	t    *testing.T
	base string
	// id and key sign the requests; the bootstrap pair when empty.
	id, key string
}

func newMNSClient(t *testing.T, n *node) *mnsClient {
	return &mnsClient{t: t, base: "http://" + n.addr}
}

// do sends a signed request; header adds x-mns-* headers.
func (c *mnsClient) do(method, resource, body string, header ...string) (int, string) {
	c.t.Helper()
	status, b, err := c.try(method, resource, body, header...)
	require.NoError(c.t, err)
	return status, b
}

// try is do for any goroutine: it reports failures instead of failing.
func (c *mnsClient) try(method, resource, body string, header ...string) (int, string, error) {
	req, err := http.NewRequest(method, c.base+resource, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	sum := md5.Sum([]byte(body)) //nolint:gosec // protocol
	req.Header.Set("Content-MD5", base64.StdEncoding.EncodeToString([]byte(hex.EncodeToString(sum[:]))))
	req.Header.Set("Content-Type", "application/xml")
	req.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	req.Header.Set("x-mns-version", "2015-06-06")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	var mns []string
	for k, v := range req.Header {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-mns-") {
			mns = append(mns, lk+":"+v[0]+"\n")
		}
	}
	sort.Strings(mns)
	toSign := method + "\n" + req.Header.Get("Content-MD5") + "\n" + req.Header.Get("Content-Type") + "\n" + req.Header.Get("Date") + "\n" +
		strings.Join(mns, "") + resource
	id, key := cmp.Or(c.id, secretID), cmp.Or(c.key, secretKey)
	mac := hmac.New(sha1.New, []byte(key))
	mac.Write([]byte(toSign))
	req.Header.Set("Authorization", "MNS "+id+":"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", err
	}
	if resp.Header.Get("x-mns-request-id") == "" {
		return 0, "", fmt.Errorf("%s %s: no x-mns-request-id", method, resource)
	}
	return resp.StatusCode, string(b), nil
}

func (c *mnsClient) ok(status int, method, resource, body string, header ...string) string {
	c.t.Helper()
	got, b := c.do(method, resource, body, header...)
	require.Equal(c.t, status, got, b)
	return b
}

func xmlField(t *testing.T, doc, name string) string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, "<"+name+">")
	require.True(t, ok, "no <%s> in %s", name, doc)
	v, _, _ := strings.Cut(rest, "</"+name+">")
	return v
}

// An MNS SDK's publish reaches an MNS-made HTTP subscription as a push that
// verifies with the §2.7 code path.
func TestMNSPublishPushVerifies(t *testing.T) {
	t.Parallel()
	got := make(chan push, 10)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- push{path: r.URL.Path, body: body, agent: r.UserAgent(), mns: verifyMNS(r)}
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })

	n := start(t, t.TempDir(), nil)
	c := newMNSClient(t, n)
	c.ok(http.StatusCreated, "PUT", "/topics/alerts", "<Topic/>")
	c.ok(http.StatusCreated, "PUT", "/topics/alerts/subscriptions/hook",
		"<Subscription><Endpoint>http://"+ln.Addr().String()+"/notify</Endpoint><FilterTag>vip</FilterTag></Subscription>")
	c.ok(http.StatusCreated, "POST", "/topics/alerts/messages", "<Message><MessageBody>skipped</MessageBody><MessageTag>other</MessageTag></Message>")
	body := c.ok(http.StatusCreated, "POST", "/topics/alerts/messages", "<Message><MessageBody>a &lt;b&gt;</MessageBody><MessageTag>vip</MessageTag></Message>")
	id := xmlField(t, body, "MessageId")
	select {
	case p := <-got:
		require.NoError(t, p.mns, "MNS signature verifies")
		require.Equal(t, "/notify", p.path)
		require.Equal(t, "Aliyun Notification Service Agent", p.agent)
		doc := string(p.body)
		require.Equal(t, "a &lt;b&gt;", xmlField(t, doc, "Message"))
		require.Equal(t, id, xmlField(t, doc, "MessageId"))
		require.Equal(t, "vip", xmlField(t, doc, "MessageTag"))
		require.Equal(t, "hook", xmlField(t, doc, "SubscriptionName"))
	case <-time.After(30 * time.Second):
		t.Fatal("no push within 30s")
	}
}

// Send, long-poll receive and delete through the MNS API.
func TestMNSQueueLongPoll(t *testing.T) {
	t.Parallel()
	n := start(t, t.TempDir(), nil)
	c := newMNSClient(t, n)
	c.ok(http.StatusCreated, "PUT", "/queues/jobs", "<Queue><VisibilityTimeout>60</VisibilityTimeout></Queue>")
	received := make(chan string, 1)
	go func() {
		_, b := c.do("GET", "/queues/jobs/messages?waitseconds=20", "")
		received <- b
	}()
	c.ok(http.StatusCreated, "POST", "/queues/jobs/messages", "<Message><MessageBody>work</MessageBody><Priority>2</Priority></Message>")
	var msg string
	select {
	case msg = <-received:
	case <-time.After(30 * time.Second):
		t.Fatal("long poll did not return")
	}
	require.Equal(t, "work", xmlField(t, msg, "MessageBody"))
	require.Equal(t, "2", xmlField(t, msg, "Priority"))
	require.Equal(t, "1", xmlField(t, msg, "DequeueCount"))
	c.ok(http.StatusNoContent, "DELETE", "/queues/jobs/messages?ReceiptHandle="+url.QueryEscape(xmlField(t, msg, "ReceiptHandle")), "")
	status, b := c.do("GET", "/queues/jobs/messages?waitseconds=1", "")
	require.Equal(t, http.StatusNotFound, status)
	require.Equal(t, "MessageNotExist", xmlField(t, b, "Code"))
}

// The two APIs share one store: a CMQ publish reaches an MNS queue
// subscription and is received through MNS, an MNS publish reaches a CMQ
// queue subscription, and a queue is readable from both.
func TestMNSAndCMQShareObjects(t *testing.T) {
	t.Parallel()
	n := start(t, t.TempDir(), nil)
	c := newMNSClient(t, n)
	ctx := context.Background()
	wait := 20

	// CMQ topic → MNS-made queue subscription → MNS receive.
	_, err := n.Client.CreateTopic(ctx, client.CreateTopicRequest{TopicName: "fromcmq"})
	require.NoError(t, err)
	c.ok(http.StatusCreated, "PUT", "/queues/mnsinbox", "")
	c.ok(http.StatusCreated, "PUT", "/topics/fromcmq/subscriptions/toqueue",
		"<Subscription><Endpoint>acs:mns:cn-hangzhou:1000000:queues/mnsinbox</Endpoint><NotifyContentFormat>XML</NotifyContentFormat></Subscription>")
	pub, err := n.Client.PublishMessage(ctx, client.PublishMessageRequest{TopicName: "fromcmq", MsgBody: "from cmq"})
	require.NoError(t, err)
	msg := c.ok(http.StatusOK, "GET", "/queues/mnsinbox/messages?waitseconds=20", "")
	note := xmlField(t, msg, "MessageBody")
	require.Contains(t, note, "&lt;Notification xmlns=&#34;http://mns.aliyuncs.com/doc/v1/&#34;&gt;")
	require.Contains(t, note, "&lt;Message&gt;from cmq&lt;/Message&gt;")
	require.Contains(t, note, "&lt;MessageId&gt;"+pub.MsgID+"&lt;/MessageId&gt;")

	// MNS topic → CMQ-made queue subscription → CMQ receive.
	_, err = n.Client.CreateQueue(ctx, client.CreateQueueRequest{QueueName: "cmqinbox"})
	require.NoError(t, err)
	c.ok(http.StatusCreated, "PUT", "/topics/frommns", "")
	_, err = n.Client.Subscribe(ctx, client.SubscribeRequest{TopicName: "frommns", SubscriptionName: "q", Protocol: "queue", Endpoint: "cmqinbox", NotifyContentFormat: "SIMPLIFIED"})
	require.NoError(t, err)
	c.ok(http.StatusCreated, "POST", "/topics/frommns/messages", "<Message><MessageBody>from mns</MessageBody></Message>")
	got, err := n.Client.ReceiveMessage(ctx, client.ReceiveMessageRequest{QueueName: "cmqinbox", PollingWaitSeconds: &wait})
	require.NoError(t, err)
	require.Equal(t, "from mns", got.MsgBody)

	// One queue, both APIs: MNS send, CMQ receive and delete; CMQ send, MNS
	// receive.
	c.ok(http.StatusCreated, "POST", "/queues/cmqinbox/messages", "<Message><MessageBody>sent via mns</MessageBody></Message>")
	got, err = n.Client.ReceiveMessage(ctx, client.ReceiveMessageRequest{QueueName: "cmqinbox", PollingWaitSeconds: &wait})
	require.NoError(t, err)
	require.Equal(t, "sent via mns", got.MsgBody)
	_, err = n.Client.DeleteMessage(ctx, client.DeleteMessageRequest{QueueName: "cmqinbox", ReceiptHandle: got.ReceiptHandle})
	require.NoError(t, err)
	_, err = n.Client.SendMessage(ctx, client.SendMessageRequest{QueueName: "mnsinbox", MsgBody: "sent via cmq"})
	require.NoError(t, err)
	msg = c.ok(http.StatusOK, "GET", "/queues/mnsinbox/messages?waitseconds=20", "")
	require.Equal(t, "sent via cmq", xmlField(t, msg, "MessageBody"))

	// The CLI's listings (the CMQ API's) and the dashboard show the
	// MNS-made objects.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.addr+"/dashboard", nil)
	require.NoError(t, err)
	req.SetBasicAuth(secretID, secretKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	page, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	for _, name := range []string{"mnsinbox", "frommns", "toqueue"} {
		require.Contains(t, string(page), name)
	}
	resp, err = http.Get("http://" + n.addr + "/metrics")
	require.NoError(t, err)
	metrics, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.NoError(t, err)
	require.Contains(t, string(metrics), `queue="mnsinbox"`)
	require.Contains(t, string(metrics), `herald_mns_requests_total{action="ReceiveMessage",code=""}`)
	list, err := n.Client.ListQueue(ctx, client.ListQueueRequest{SearchWord: "mnsinbox"})
	require.NoError(t, err)
	require.Equal(t, 1, list.TotalCount)
	topics, err := n.Client.ListTopic(ctx, client.ListTopicRequest{SearchWord: "frommns"})
	require.NoError(t, err)
	require.Equal(t, 1, topics.TotalCount)
}

// A kill -9 while MNS sends are acknowledged loses none of them: every
// message answered 201 is received after the restart.
func TestMNSSendSurvivesKill(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := start(t, dir, nil)
	c := newMNSClient(t, n)
	c.ok(http.StatusCreated, "PUT", "/queues/durable", "<Queue><VisibilityTimeout>1</VisibilityTimeout></Queue>")
	acked := make(chan string, 100000)
	killAt := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			var batch strings.Builder
			batch.WriteString("<Messages>")
			for j := range 4 {
				fmt.Fprintf(&batch, "<Message><MessageBody>m-%d-%d</MessageBody></Message>", i, j)
			}
			batch.WriteString("</Messages>")
			status, _, err := c.try("POST", "/queues/durable/messages", batch.String())
			if err != nil {
				return // killed
			}
			if status == http.StatusCreated {
				for j := range 4 {
					acked <- fmt.Sprintf("m-%d-%d", i, j)
				}
			}
			if i == 50 {
				close(killAt)
			}
		}
	}()
	<-killAt
	n.kill()
	<-done
	close(acked)

	n2 := start(t, dir, nil)
	c2 := newMNSClient(t, n2)
	seen := map[string]bool{}
	for empty := 0; empty < 2; {
		status, body := c2.do("GET", "/queues/durable/messages?numOfMessages=16&waitseconds=2", "")
		if status == http.StatusNotFound {
			empty++
			continue
		}
		require.Equal(t, http.StatusOK, status, body)
		empty = 0
		var del strings.Builder
		del.WriteString("<ReceiptHandles>")
		for _, part := range strings.Split(body, "<Message>")[1:] {
			seen[xmlField(t, part, "MessageBody")] = true
			del.WriteString("<ReceiptHandle>" + xmlField(t, part, "ReceiptHandle") + "</ReceiptHandle>")
		}
		del.WriteString("</ReceiptHandles>")
		c2.ok(http.StatusNoContent, "DELETE", "/queues/durable/messages", del.String())
	}
	count := 0
	for b := range acked {
		count++
		require.True(t, seen[b], "acknowledged %s was lost", b)
	}
	require.GreaterOrEqual(t, count, 200)
}
