package push_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/push"
)

func TestWebhookSpecVector(t *testing.T) {
	t.Parallel()
	// The test vector published with the Standard Webhooks reference
	// implementations.
	const (
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		id     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		body   = `{"test": 2432232314}`
		want   = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	srv := newRawServer(t, 200)
	p := newPusher(t, push.Config{Clock: clock.NewFake(time.Unix(1614265330, 0))})
	m := fixtureMessage()
	m.Body = []byte(body)
	o := p.Push(t.Context(), &push.Job{
		Message: m,
		Target:  push.Target{URL: srv.URL, Format: push.FormatSimplified, WebhookSecrets: []string{secret}},
		Attempt: push.Attempt{Number: 1, DeliveryID: id},
	})
	require.True(t, o.Delivered(), "%+v", o)
	r := srv.next(t)
	for name, value := range map[string]string{
		"webhook-id":        id,
		"webhook-timestamp": "1614265330",
		"webhook-signature": want,
	} {
		got, ok := r.header(name)
		require.True(t, ok, "header %s, lower case on the wire", name)
		require.Equal(t, value, got)
	}
	require.NoError(t, verifyWebhook(secret, id, "1614265330", r.Body, want))
}

func TestWebhookRotationAndRetries(t *testing.T) {
	t.Parallel()
	oldSecret, newSecret := push.NewWebhookSecret(), push.NewWebhookSecret()
	require.NotEqual(t, oldSecret, newSecret)
	require.True(t, strings.HasPrefix(oldSecret, "whsec_"))
	key, err := push.ParseWebhookSecret(oldSecret)
	require.NoError(t, err)
	require.Len(t, key, 32)

	keys := certServer(t)
	srv := newRawServer(t, 200)
	clk := clock.NewFake(pushTime)
	p := newPusher(t, push.Config{Clock: clk, Signer: keys})
	var ids []string
	for attempt := 1; attempt <= 2; attempt++ {
		for _, tgt := range []push.Target{
			{URL: srv.URL, WebhookSecrets: []string{oldSecret, newSecret}},
			{URL: srv.URL, Format: push.FormatXML, WebhookSecrets: []string{oldSecret, newSecret}},
		} {
			o := p.Push(t.Context(), &push.Job{Message: fixtureMessage(), Target: tgt, Attempt: push.Attempt{Number: attempt}})
			require.True(t, o.Delivered(), "%+v", o)
			r := srv.next(t)
			id, _ := r.header("webhook-id")
			ts, _ := r.header("webhook-timestamp")
			sig, _ := r.header("webhook-signature")
			require.Equal(t, strconv.FormatInt(clk.Now().Unix(), 10), ts)
			require.Len(t, strings.Split(sig, " "), 2, "one signature per secret")
			require.NoError(t, verifyWebhook(oldSecret, id, ts, r.Body, sig))
			require.NoError(t, verifyWebhook(newSecret, id, ts, r.Body, sig))
			require.Error(t, verifyWebhook(push.NewWebhookSecret(), id, ts, r.Body, sig))
			require.Error(t, verifyWebhook(oldSecret, id, ts, append(r.Body, ' '), sig))
			if tgt.Format == push.FormatXML {
				require.NoError(t, verifyMNS(r, fetchCert), "webhook headers leave the MNS signature intact")
			}
			ids = append(ids, id)
		}
		clk.Advance(time.Minute)
	}
	require.Equal(t, ids[0], ids[2], "webhook-id is stable across retries")
	require.True(t, strings.HasPrefix(ids[0], "msg_"))
}

func TestParseWebhookSecret(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"} {
		_, err := push.ParseWebhookSecret(s)
		require.NoError(t, err, s)
	}
	for _, s := range []string{"", "whsec_", "whsec_c2hvcnQ=", "whsec_not base64!", "whsec_" + strings.Repeat("A", 100)} {
		_, err := push.ParseWebhookSecret(s)
		require.ErrorIs(t, err, push.ErrWebhookSecret, s)
	}
}
