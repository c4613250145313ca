package e2e

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // MNS push signatures are SHA1withRSA
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/client"
)

// verifyMNS checks a push the way Alibaba's Go sample does: header names
// lower-cased, the certificate fetched from x-mns-signing-cert-url,
// SHA1withRSA over the MNS string to sign.
func verifyMNS(r *http.Request) error {
	h := map[string]string{}
	for k, v := range r.Header {
		h[strings.ToLower(k)] = v[0]
	}
	var mns []string
	for k, v := range h {
		if strings.HasPrefix(k, "x-mns-") {
			mns = append(mns, k+":"+v)
		}
	}
	sort.Strings(mns)
	toSign := fmt.Sprintf("%s\n%s\n%s\n%s\n%s\n%s", r.Method, h["content-md5"], h["content-type"], h["date"],
		strings.Join(mns, "\n"), r.URL.RequestURI())
	certURL, err := base64.StdEncoding.DecodeString(h["x-mns-signing-cert-url"])
	if err != nil {
		return err
	}
	resp, err := http.Get(string(certURL))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	certPEM, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return fmt.Errorf("no PEM at %s", certURL)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return err
	}
	sig, err := base64.StdEncoding.DecodeString(h["authorization"])
	if err != nil {
		return err
	}
	sum := sha1.Sum([]byte(toSign)) //nolint:gosec // protocol
	return rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA1, sum[:], sig)
}

// verifyWebhook checks a Standard Webhooks signature independently.
func verifyWebhook(r *http.Request, body []byte, secret string) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, s := range strings.Split(r.Header.Get("webhook-signature"), " ") {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return fmt.Errorf("no webhook signature matches")
}

type push struct {
	path  string
	body  []byte
	mns   error
	hook  error
	agent string
}

// A subscription with notifyContentFormat=XML and a webhook secret gets MNS
// pushes that verify against the certificate herald serves, and Standard
// Webhooks signatures that verify with the secret Subscribe returned.
func TestSignedPushesVerify(t *testing.T) {
	t.Parallel()
	got := make(chan push, 10)
	var secret string
	secretReady := make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		<-secretReady
		p := push{path: r.URL.Path, body: body, agent: r.UserAgent(), mns: verifyMNS(r)}
		if r.Header.Get("webhook-id") != "" {
			p.hook = verifyWebhook(r, body, secret)
		}
		got <- p
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })

	n := start(t, t.TempDir(), nil)
	ctx := context.Background()
	_, err = n.Client.CreateTopic(ctx, client.CreateTopicRequest{TopicName: "signed"})
	require.NoError(t, err)
	raw, err := n.Client.Do(ctx, "Subscribe", []client.Param{
		{Key: "topicName", Value: "signed"}, {Key: "subscriptionName", Value: "mns"},
		{Key: "protocol", Value: "http"}, {Key: "endpoint", Value: "http://" + ln.Addr().String()},
		{Key: "notifyContentFormat", Value: "XML"}, {Key: "webhookSecret", Value: "generate"},
	})
	require.NoError(t, err)
	secret = extract(t, raw, "webhookSecret")
	require.True(t, strings.HasPrefix(secret, "whsec_"))
	close(secretReady)
	_, err = n.Client.PublishMessage(ctx, client.PublishMessageRequest{TopicName: "signed", MsgBody: "<hello & goodbye>", MsgTags: []string{"t"}})
	require.NoError(t, err)
	select {
	case p := <-got:
		require.NoError(t, p.mns, "MNS signature verifies")
		require.NoError(t, p.hook, "webhook signature verifies")
		require.Equal(t, "/notifications", p.path)
		require.Equal(t, "Aliyun Notification Service Agent", p.agent)
		require.Contains(t, string(p.body), "<Message>&lt;hello &amp; goodbye&gt;</Message>")
	case <-time.After(30 * time.Second):
		t.Fatal("no push within 30s")
	}
}

func extract(t *testing.T, raw []byte, key string) string {
	t.Helper()
	s := string(raw)
	i := strings.Index(s, `"`+key+`":"`)
	require.GreaterOrEqual(t, i, 0, s)
	rest := s[i+len(key)+4:]
	return rest[:strings.IndexByte(rest, '"')]
}
