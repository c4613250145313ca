package e2e

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/client"
	pushreceiver "github.com/herald-mq/herald/client/receiver"
)

// client/receiver checks and decodes the pushes the real binary sends, in
// every dialect and format: one message with tags reaches five
// subscriptions, each signed with a webhook secret, the MNS ones also with
// herald's RSA key, and every push decodes to the same message.
func TestReceiverDecodesEveryFormat(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	n := start(t, t.TempDir(), nil)
	ctx := context.Background()
	c := n.Client
	_, err = c.CreateTopic(ctx, client.CreateTopicRequest{TopicName: "orders"})
	require.NoError(t, err)

	subs := []struct{ name, dialect, format string }{
		{"cmq-json", "", "JSON"}, {"cmq-simple", "", "SIMPLIFIED"},
		{"mns-xml", "MNS", "XML"}, {"mns-json", "MNS", "JSON"}, {"mns-simple", "MNS", "SIMPLIFIED"},
	}
	var secrets []string
	for _, s := range subs {
		resp, err := c.Subscribe(ctx, client.SubscribeRequest{
			TopicName: "orders", SubscriptionName: s.name, Protocol: "http",
			Endpoint: "http://" + ln.Addr().String() + "/" + s.name, NotifyContentFormat: s.format,
			Dialect: s.dialect, WebhookSecret: "generate",
		})
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(resp.WebhookSecret, "whsec_"), "Subscribe returns the secret once")
		secrets = append(secrets, resp.WebhookSecret)
	}
	v, err := pushreceiver.New(pushreceiver.Config{
		WebhookSecrets:     secrets,
		MNSCertURLPrefixes: []string{"http://" + n.addr + "/mns/"},
	})
	require.NoError(t, err)
	var mu sync.Mutex
	got := map[string]pushreceiver.Push{}
	all := make(chan struct{})
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: v.Handler(func(_ context.Context, p pushreceiver.Push) error {
		mu.Lock()
		defer mu.Unlock()
		got[p.SubscriptionName+"/"+p.Dialect+"/"+p.Format] = p
		if len(got) == len(subs) {
			close(all)
		}
		return nil
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })

	pub, err := c.PublishMessage(ctx, client.PublishMessageRequest{TopicName: "orders", MsgBody: `{"order":42} <&>`, MsgTags: []string{"paid", "eu"}})
	require.NoError(t, err)
	select {
	case <-all:
	case <-time.After(30 * time.Second):
		t.Fatalf("not every push verified within 30 s: %v", got)
	}
	for _, s := range subs {
		dialect := s.dialect
		if dialect == "" {
			dialect = pushreceiver.DialectCMQ
		}
		key := s.name + "/" + dialect + "/" + s.format
		if s.dialect == "" && s.format == "SIMPLIFIED" {
			key = "/CMQ/SIMPLIFIED" // a CMQ SIMPLIFIED push does not name its subscription
		}
		p, ok := got[key]
		require.True(t, ok, "no verified push for %s: %v", key, got)
		require.Equal(t, pub.MsgID, p.MsgID, key)
		require.Equal(t, `{"order":42} <&>`, string(p.Body), key)
		require.Equal(t, []string{"paid", "eu"}, p.Tags, key)
		require.NotEmpty(t, p.WebhookID, key)
	}
}
