// Package receiver is for Go endpoints that receive herald's pushes: it
// checks them (the Standard Webhooks signature, the MNS SHA1withRSA
// signature) and decodes every push format (CMQ JSON and SIMPLIFIED, MNS XML,
// JSON and SIMPLIFIED) into one Push.
//
//	v, _ := receiver.New(receiver.Config{WebhookSecrets: []string{secret}})
//	http.Handle("/hook", v.Handler(func(ctx context.Context, p receiver.Push) error {
//		return process(p.MsgID, p.Body)
//	}))
package receiver

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // MNS signs with SHA1withRSA by protocol.
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Errors a push is refused with (wrapped, with errors.Is).
var (
	// ErrSignature is a missing or wrong signature; Handler answers 403,
	// which herald counts as signatureRejectedCount.
	ErrSignature = errors.New("receiver: signature does not verify")
	// ErrStale is a webhook-timestamp outside Config.Tolerance (a replay).
	ErrStale = errors.New("receiver: webhook timestamp outside the tolerance")
	// ErrFormat is a push that is not one of herald's formats.
	ErrFormat = errors.New("receiver: not a herald push")
)

// Dialects and formats of a Push.
const (
	DialectCMQ       = "CMQ"
	DialectMNS       = "MNS"
	FormatJSON       = "JSON"
	FormatSimplified = "SIMPLIFIED"
	FormatXML        = "XML"
)

// Push is one decoded push.
type Push struct {
	// Dialect is DialectCMQ or DialectMNS; Format is FormatJSON,
	// FormatSimplified or FormatXML.
	Dialect, Format string
	// MsgID is the message's id: the same on every retry, and the one
	// PublishMessage returned.
	MsgID string
	// Body is the message body as published.
	Body []byte
	// Tags are the message's tags.
	Tags []string
	// TopicName and SubscriptionName name where it came from; empty for CMQ
	// SIMPLIFIED pushes, which do not say.
	TopicName, SubscriptionName string
	// PublishTime is when it was published; zero for CMQ SIMPLIFIED.
	PublishTime time.Time
	// WebhookID is the Standard Webhooks id (stable across retries), when
	// the subscription signs with a webhook secret.
	WebhookID string
}

// Config says what a Verifier requires.
type Config struct {
	// WebhookSecrets are the subscription's Standard Webhooks secrets
	// (whsec_…). When set, every push must carry a valid webhook-signature
	// by one of them. Defaults to none (no webhook signature required).
	WebhookSecrets []string
	// Tolerance is how far webhook-timestamp may be from now. Defaults to 5
	// minutes.
	Tolerance time.Duration
	// MNSCertURLPrefixes are the certificate URLs trusted for MNS pushes,
	// such as "https://herald.example.com/mns/". When set, MNS pushes must be
	// signed by a certificate fetched from under one of them; when empty, MNS
	// signatures are not checked.
	MNSCertURLPrefixes []string
	// HTTPClient fetches MNS certificates. Defaults to a client with a
	// 10-second timeout.
	HTTPClient *http.Client
	// MaxBody is the largest body Handler reads. Defaults to 1 MiB + 4 KiB.
	MaxBody int64
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

// Verifier checks and decodes pushes.
type Verifier struct {
	cfg   Config
	keys  [][]byte
	mu    sync.Mutex
	certs map[string]*rsa.PublicKey // by certificate URL
}

// New returns a Verifier for cfg.
func New(cfg Config) (*Verifier, error) {
	cfg.Tolerance = cmp.Or(cfg.Tolerance, 5*time.Minute)
	cfg.MaxBody = cmp.Or(cfg.MaxBody, 1<<20+4<<10)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v := &Verifier{cfg: cfg, certs: map[string]*rsa.PublicKey{}}
	for _, s := range cfg.WebhookSecrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if err != nil || len(key) == 0 {
			return nil, fmt.Errorf("receiver: webhook secret is not whsec_ and base64: %w", cmp.Or(err, errors.New("empty")))
		}
		v.keys = append(v.keys, key)
	}
	return v, nil
}

// Handler reads and checks each push and hands it to h: it answers 204 when
// h returns nil, 403 to a push whose signature does not verify (herald then
// counts it as signature-rejected), 400 to anything that is not a push, and
// 500 when h fails, so that herald retries.
func (v *Verifier) Handler(h func(ctx context.Context, p Push) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, v.cfg.MaxBody))
		if err != nil {
			http.Error(w, "body: "+err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		p, err := v.Verify(r.Context(), r, body)
		switch {
		case errors.Is(err, ErrSignature), errors.Is(err, ErrStale):
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := h(r.Context(), p); err != nil {
			http.Error(w, "not handled", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// Verify checks the push r whose body was read into body and decodes it.
func (v *Verifier) Verify(ctx context.Context, r *http.Request, body []byte) (Push, error) {
	var p Push
	if len(v.keys) > 0 {
		id, err := v.checkWebhook(r.Header, body)
		if err != nil {
			return Push{}, err
		}
		p.WebhookID = id
	}
	if r.Header.Get("x-mns-signing-cert-url") != "" || r.Header.Get("x-mns-version") != "" {
		if len(v.cfg.MNSCertURLPrefixes) > 0 {
			if err := v.checkMNS(ctx, r); err != nil {
				return Push{}, err
			}
		}
		return decodeMNS(p, r.Header, body)
	}
	if r.Header.Get("x-cmq-message-id") != "" {
		return decodeCMQ(p, r.Header, body), nil
	}
	return Push{}, fmt.Errorf("%w: neither x-cmq-message-id nor x-mns-* headers", ErrFormat)
}

// checkWebhook verifies the Standard Webhooks signature and returns the
// webhook-id.
func (v *Verifier) checkWebhook(h http.Header, body []byte) (string, error) {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return "", fmt.Errorf("%w: webhook-id, webhook-timestamp and webhook-signature are required", ErrSignature)
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", fmt.Errorf("%w: webhook-timestamp %q", ErrSignature, ts)
	}
	if d := v.cfg.Now().Sub(time.Unix(unix, 0)); d > v.cfg.Tolerance || d < -v.cfg.Tolerance {
		return "", ErrStale
	}
	for _, key := range v.keys {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id + "." + ts + "."))
		mac.Write(body)
		want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
		for sig := range strings.FieldsSeq(sigs) {
			version, value, _ := strings.Cut(sig, ",")
			if version == "v1" && subtle.ConstantTimeCompare([]byte(value), []byte(want)) == 1 {
				return id, nil
			}
		}
	}
	return "", ErrSignature
}

// checkMNS verifies the SHA1withRSA Authorization over the string MNS signs
// (wire.md §2.7), with the certificate the push points to.
func (v *Verifier) checkMNS(ctx context.Context, r *http.Request) error {
	raw, err := base64.StdEncoding.DecodeString(r.Header.Get("x-mns-signing-cert-url"))
	if err != nil {
		return fmt.Errorf("%w: x-mns-signing-cert-url is not base64", ErrSignature)
	}
	certURL := string(raw)
	if !slices.ContainsFunc(v.cfg.MNSCertURLPrefixes, func(p string) bool { return strings.HasPrefix(certURL, p) }) {
		return fmt.Errorf("%w: certificate URL %q is not trusted", ErrSignature, certURL)
	}
	sig, err := base64.StdEncoding.DecodeString(r.Header.Get("Authorization"))
	if err != nil || len(sig) == 0 {
		return fmt.Errorf("%w: Authorization is not base64", ErrSignature)
	}
	pub, err := v.cert(ctx, certURL)
	if err != nil {
		return err
	}
	var mns []string
	for name, values := range r.Header {
		if lower := strings.ToLower(name); strings.HasPrefix(lower, "x-mns-") && len(values) > 0 {
			mns = append(mns, lower+":"+values[0])
		}
	}
	slices.Sort(mns)
	var sts strings.Builder
	sts.WriteString(r.Method + "\n" + r.Header.Get("Content-Md5") + "\n" + r.Header.Get("Content-Type") + "\n" + r.Header.Get("Date") + "\n")
	for _, kv := range mns {
		sts.WriteString(kv + "\n")
	}
	sts.WriteString(r.URL.RequestURI())
	sum := sha1.Sum([]byte(sts.String())) //nolint:gosec // protocol-mandated
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA1, sum[:], sig); err != nil {
		return fmt.Errorf("%w: %w", ErrSignature, err)
	}
	return nil
}

// cert returns the public key at url, fetched once.
func (v *Verifier) cert(ctx context.Context, url string) (*rsa.PublicKey, error) {
	v.mu.Lock()
	pub, ok := v.certs[url]
	v.mu.Unlock()
	if ok {
		return pub, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: certificate URL: %w", ErrSignature, err)
	}
	resp, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("receiver: fetch certificate: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("receiver: fetch certificate: HTTP %d", resp.StatusCode)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("receiver: fetch certificate: %w", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("%w: certificate is not PEM", ErrSignature)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: certificate: %w", ErrSignature, err)
	}
	pub, ok = cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: certificate key is not RSA", ErrSignature)
	}
	v.mu.Lock()
	v.certs[url] = pub
	v.mu.Unlock()
	return pub, nil
}

// decodeCMQ reads a CMQ push: JSON when the body is CMQ's envelope of this
// very message, else SIMPLIFIED (the body as published).
func decodeCMQ(p Push, h http.Header, body []byte) Push {
	p.Dialect, p.Format, p.MsgID = DialectCMQ, FormatSimplified, h.Get("x-cmq-message-id")
	p.Tags = splitTags(h.Get("x-cmq-message-tag"))
	var env struct {
		TopicName        string  `json:"topicName"`
		SubscriptionName string  `json:"subscriptionName"`
		MsgID            string  `json:"msgId"`
		MsgBody          *string `json:"msgBody"`
		PublishTime      int64   `json:"publishTime"`
	}
	if bytes.HasPrefix(body, []byte(`{"TopicOwner":`)) && json.Unmarshal(body, &env) == nil && env.MsgID == p.MsgID && env.MsgBody != nil {
		p.Format, p.Body = FormatJSON, []byte(*env.MsgBody)
		p.TopicName, p.SubscriptionName = env.TopicName, env.SubscriptionName
		p.PublishTime = time.Unix(env.PublishTime, 0)
		return p
	}
	p.Body = body
	return p
}

// mnsNotification is MNS's XML and JSON notification document.
type mnsNotification struct {
	TopicName        string `xml:"TopicName" json:"TopicName"`
	SubscriptionName string `xml:"SubscriptionName" json:"SubscriptionName"`
	MessageID        string `xml:"MessageId" json:"MessageId"`
	Message          string `xml:"Message" json:"Message"`
	MessageTag       string `xml:"MessageTag" json:"MessageTag"`
	PublishTime      string `xml:"PublishTime" json:"PublishTime"`
}

// decodeMNS reads an MNS push in any of its formats.
func decodeMNS(p Push, h http.Header, body []byte) (Push, error) {
	p.Dialect = DialectMNS
	p.TopicName, p.SubscriptionName = h.Get("x-mns-topic-name"), h.Get("x-mns-subscription-name")
	if ms, err := strconv.ParseInt(h.Get("x-mns-publish-time"), 10, 64); err == nil {
		p.PublishTime = time.UnixMilli(ms)
	}
	if id := h.Get("x-mns-message-id"); id != "" {
		p.Format, p.MsgID, p.Body = FormatSimplified, id, body
		p.Tags = splitTags(h.Get("x-mns-message-tag"))
		return p, nil
	}
	var n mnsNotification
	var err error
	if strings.HasPrefix(h.Get("Content-Type"), "text/xml") {
		p.Format = FormatXML
		err = xml.Unmarshal(body, &n)
	} else {
		p.Format = FormatJSON
		err = json.Unmarshal(body, &n)
	}
	if err != nil || n.MessageID == "" {
		return Push{}, fmt.Errorf("%w: MNS %s notification without a MessageId", ErrFormat, p.Format)
	}
	p.MsgID, p.Body, p.Tags = n.MessageID, []byte(n.Message), splitTags(n.MessageTag)
	p.TopicName, p.SubscriptionName = cmp.Or(n.TopicName, p.TopicName), cmp.Or(n.SubscriptionName, p.SubscriptionName)
	if ms, err := strconv.ParseInt(n.PublishTime, 10, 64); err == nil {
		p.PublishTime = time.UnixMilli(ms)
	}
	return p, nil
}

// splitTags splits "a, b" as herald joins tags.
func splitTags(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ", ")
}
