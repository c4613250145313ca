package push

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Standard Webhooks (standardwebhooks.com) header names, lower case as the
// specification writes them.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// WebhookSecretPrefix starts every Standard Webhooks secret.
const WebhookSecretPrefix = "whsec_"

// ErrWebhookSecret is returned for a malformed Standard Webhooks secret.
var ErrWebhookSecret = errors.New("push: invalid webhook secret")

// Key sizes the Standard Webhooks specification allows.
const (
	minWebhookKey = 24
	maxWebhookKey = 64
)

// NewWebhookSecret returns a fresh secret: "whsec_" and the standard base64
// of 32 random bytes.
func NewWebhookSecret() string {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // never fails (crypto/rand)
	return WebhookSecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// ParseWebhookSecret returns the HMAC key of a secret: the base64 after the
// optional "whsec_" prefix, 24 to 64 bytes long.
func ParseWebhookSecret(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, WebhookSecretPrefix))
	if err != nil {
		return nil, fmt.Errorf("%w: not base64", ErrWebhookSecret)
	}
	if len(key) < minWebhookKey || len(key) > maxWebhookKey {
		return nil, fmt.Errorf("%w: key is %d bytes, want %d to %d", ErrWebhookSecret, len(key), minWebhookKey, maxWebhookKey)
	}
	return key, nil
}

// signWebhook returns the webhook-signature value: "v1,<base64 HMAC-SHA256
// of id.timestamp.body>" for each secret, space-separated.
func signWebhook(secrets []string, id string, unix int64, body []byte) (string, error) {
	ts := strconv.FormatInt(unix, 10)
	var b strings.Builder
	for i, s := range secrets {
		key, err := ParseWebhookSecret(s)
		if err != nil {
			return "", err
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id))
		mac.Write([]byte{'.'})
		mac.Write([]byte(ts))
		mac.Write([]byte{'.'})
		mac.Write(body)
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("v1,")
		b.WriteString(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return b.String(), nil
}
