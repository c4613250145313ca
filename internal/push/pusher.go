package push

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/push/mnssign"
	"github.com/herald-mq/herald/internal/push/post"
)

// User agents of the services herald stands in for.
const (
	UserAgentCMQ = "Qcloud Notification Service Agent"
	UserAgentMNS = "Aliyun Notification Service Agent"
)

// MNSVersion is the x-mns-version header value.
const MNSVersion = "2015-06-06"

// mnsDefaultPath is the MNS push path when the endpoint URL has none.
const mnsDefaultPath = "/notifications"

// Signer hands out the key that signs MNS pushes now; *mnssign.Keyring is one.
type Signer interface {
	SigningKey() *mnssign.Key
}

// Config sets up a Pusher.
type Config struct {
	// Timeout is how long an endpoint has to answer. Defaults to 15s.
	Timeout time.Duration
	// AllowPrivate allows pushes to loopback, private and other internal
	// addresses (--allow-private-endpoints). Defaults to false.
	AllowPrivate bool
	// Signer signs MNS pushes. Defaults to nil: MNS targets fail with
	// ErrNoSigner.
	Signer Signer
	// Clock times attempts and stamps Date and webhook-timestamp. Defaults
	// to clock.Real.
	Clock clock.Clock
	// MaxIdleConnsPerHost is the keep-alive pool per endpoint; keep it at
	// least the Dispatcher's PerEndpoint. Defaults to 16.
	MaxIdleConnsPerHost int
	// MaxIdleConns is the keep-alive pool over all endpoints. Defaults to 4096.
	MaxIdleConns int
	// MaxDiscard is how much of a response body is read (and dropped) so the
	// connection can be reused; a longer body closes it. Defaults to 64 KiB.
	MaxDiscard int64
	// Resolver resolves endpoint host names. Defaults to net.DefaultResolver.
	Resolver *net.Resolver
	// TLSConfig is used for https endpoints. Defaults to nil: system roots.
	TLSConfig *tls.Config
	// NewRequestID returns the x-cmq-request-id / x-mns-request-id of an
	// attempt. Defaults to 24 random upper-case hex digits.
	NewRequestID func() string
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.Timeout = cmp.Or(c.Timeout, 15*time.Second)
	c.MaxIdleConnsPerHost = cmp.Or(c.MaxIdleConnsPerHost, 16)
	c.MaxIdleConns = cmp.Or(c.MaxIdleConns, 4096)
	c.MaxDiscard = cmp.Or(c.MaxDiscard, 64<<10)
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	if c.NewRequestID == nil {
		c.NewRequestID = randomRequestID
	}
	return c
}

func (c Config) validate() error {
	if c.Timeout < 0 || c.MaxIdleConnsPerHost < 0 || c.MaxIdleConns < 0 || c.MaxDiscard < 0 {
		return errors.New("push: negative Timeout, pool size or MaxDiscard")
	}
	return nil
}

// Pusher makes push attempts over keep-alive connections pooled per
// endpoint. It is safe for concurrent use.
type Pusher struct {
	cfg    Config
	client *post.Client
}

// New returns a Pusher.
func New(cfg Config) (*Pusher, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	dialer := &net.Dialer{KeepAlive: 30 * time.Second, Resolver: cfg.Resolver}
	if !cfg.AllowPrivate {
		dialer.Control = guardControl
	}
	// HTTP/1.1 only, no proxy (it would hide the endpoint's address from
	// the guard), no redirects followed. HTTP/2 would lower-case header
	// names, and the MNS sample verifiers look up "Content-md5"
	// case-sensitively.
	client, err := post.New(post.Config{
		Dial:           dialer.DialContext,
		TLSConfig:      cfg.TLSConfig,
		MaxIdlePerHost: cfg.MaxIdleConnsPerHost,
		MaxIdle:        cfg.MaxIdleConns,
		MaxDiscard:     cfg.MaxDiscard,
		Now:            cfg.Clock.Now,
	})
	if err != nil {
		return nil, err
	}
	return &Pusher{cfg: cfg, client: client}, nil
}

// CloseIdleConnections closes the keep-alive connections not in use.
func (p *Pusher) CloseIdleConnections() { p.client.CloseIdleConnections() }

// Push makes one attempt to deliver j.Message to j.Target. Canceling ctx
// abandons the attempt (StatusAbandoned); the endpoint not answering within
// Config.Timeout fails it.
func (p *Pusher) Push(ctx context.Context, j *Job) Outcome {
	start := p.cfg.Clock.Now()
	if ctx.Err() != nil {
		return Outcome{Status: StatusAbandoned, Err: fmt.Errorf("%w: %w", ErrStopped, context.Cause(ctx))}
	}
	req, signed, err := p.build(j, start)
	if err != nil {
		return Outcome{Status: StatusFailed, Err: err}
	}
	o := Outcome{RequestID: req.reqID}
	preq := &post.Request{URL: req.url, Header: req.header, Body: req.body}
	actx := ctx
	if _, ok := p.cfg.Clock.(clock.Real); ok {
		preq.Deadline = start.Add(p.cfg.Timeout) // a socket deadline: no timer per push
	} else {
		var cancel context.CancelFunc
		actx, cancel = p.withTimeout(ctx)
		defer cancel()
	}
	code, err := p.client.Do(actx, preq)
	o.Elapsed = p.cfg.Clock.Now().Sub(start)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			o.Status, o.Err = StatusAbandoned, fmt.Errorf("%w: %w", ErrStopped, context.Cause(ctx))
		case errors.Is(err, post.ErrTimeout) || errors.Is(context.Cause(actx), ErrTimeout):
			o.Status, o.Err, o.Timeout = StatusFailed, ErrTimeout, true
		default:
			o.Status, o.Err = StatusFailed, err
		}
		return o
	}
	o.Code = code
	if code >= 200 && code < 300 {
		o.Status = StatusDelivered
		return o
	}
	se := &StatusError{Code: code, Signed: signed}
	o.Status, o.Err, o.SignatureRejected = StatusFailed, se, errors.Is(se, ErrSignatureRejected)
	return o
}

// withTimeout bounds an attempt by Config.Timeout on an injected clock (the
// real clock uses a socket deadline instead).
func (p *Pusher) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	actx, cancel := context.WithCancelCause(ctx)
	t := p.cfg.Clock.NewTimer(p.cfg.Timeout)
	done := make(chan struct{})
	go func() {
		select {
		case <-t.C():
			cancel(ErrTimeout)
		case <-done:
		}
	}()
	return actx, func() {
		t.Stop()
		close(done)
		cancel(context.Canceled)
	}
}

// request is one encoded attempt.
type request struct {
	url    *url.URL
	body   []byte
	header http.Header
	reqID  string
}

// build encodes j for the wire. Header names are assigned to the map as they
// must appear on the wire; Go writes map keys verbatim.
func (p *Pusher) build(j *Job, now time.Time) (request, bool, error) {
	m, t := &j.Message, &j.Target
	parsed := parseEndpoint(t.URL).url
	if parsed == nil || (parsed.Scheme != "http" && parsed.Scheme != "https") {
		return request{}, false, fmt.Errorf("%w: %q", ErrEndpointInvalid, t.URL)
	}
	u := parsed
	r := request{reqID: p.cfg.NewRequestID(), header: make(http.Header, 16)}
	h := r.header
	signed := false
	switch t.dialect() {
	case DialectMNS:
		if u.Path == "" {
			withPath := *u // the cached URL stays as it is
			withPath.Path = mnsDefaultPath
			u = &withPath
		}
		r.url = u
		if err := p.buildMNS(&r, m, t.format(), u.RequestURI(), now); err != nil {
			return request{}, false, err
		}
		signed = true
	default:
		r.url = u
		switch t.format() {
		case FormatSimplified:
			r.body = m.Body
		case FormatJSON:
			r.body = appendCMQJSON(make([]byte, 0, 160+len(m.Body)), m)
		default:
			return request{}, false, fmt.Errorf("push: format %q is not a CMQ format", t.Format)
		}
		h["Content-Type"] = []string{"text/plain"}
		h["User-Agent"] = []string{UserAgentCMQ}
		h["x-cmq-request-id"] = []string{r.reqID}
		h["x-cmq-message-id"] = []string{m.ID}
		if len(m.Tags) > 0 { // undocumented without tags: the header is left out
			h["x-cmq-message-tag"] = []string{joinTags(m.Tags)}
		}
	}
	if len(t.WebhookSecrets) > 0 {
		id := j.deliveryID()
		sig, err := signWebhook(t.WebhookSecrets, id, now.Unix(), r.body)
		if err != nil {
			return request{}, false, err
		}
		h[HeaderWebhookID] = []string{id}
		h[HeaderWebhookTimestamp] = []string{strconv.FormatInt(now.Unix(), 10)}
		h[HeaderWebhookSignature] = []string{sig}
	}
	return r, signed, nil
}

// MNS content types by format (wire.md §2.6; JSON's is undocumented).
var mnsContentType = map[Format]string{
	FormatXML:        "text/xml;charset=utf-8",
	FormatJSON:       "application/json;charset=utf-8",
	FormatSimplified: "text/plain;charset=utf-8",
}

// buildMNS fills r with an MNS push: body, headers and the SHA1withRSA
// Authorization over the wire.md §2.7 string to sign, whose resource is
// the request URI (path and query) the receiver sees.
func (p *Pusher) buildMNS(r *request, m *Message, f Format, resource string, now time.Time) error {
	if p.cfg.Signer == nil {
		return ErrNoSigner
	}
	ctype, ok := mnsContentType[f]
	if !ok {
		return fmt.Errorf("push: format %q is not an MNS format", f)
	}
	msgMD5 := md5Upper(m.Body)
	switch f {
	case FormatXML:
		r.body = appendMNSXML(make([]byte, 0, 400+len(m.Body)), m, msgMD5)
	case FormatJSON:
		r.body = appendMNSJSON(make([]byte, 0, 300+len(m.Body)), m, msgMD5)
	default:
		r.body = m.Body
	}
	bodyMD5 := msgMD5
	if f != FormatSimplified {
		bodyMD5 = md5Upper(r.body)
	}
	key := p.cfg.Signer.SigningKey()
	date := now.UTC().Format(http.TimeFormat)

	h := r.header
	mns := []string{ // "name:value" of every x-mns-* header, sorted below
		"x-mns-publish-time:" + strconv.FormatInt(m.PublishTime.UnixMilli(), 10),
		"x-mns-request-id:" + r.reqID,
		"x-mns-signing-cert-url:" + base64.StdEncoding.EncodeToString([]byte(key.CertURL)),
		"x-mns-subscriber:" + m.subscriber(),
		"x-mns-subscription-name:" + m.SubscriptionName,
		"x-mns-topic-name:" + m.TopicName,
		"x-mns-topic-owner:" + strconv.FormatInt(m.TopicOwner, 10),
		"x-mns-version:" + MNSVersion,
	}
	if f == FormatSimplified { // the MNS doc lists these for SIMPLIFIED only
		mns = append(mns, "x-mns-message-id:"+m.ID)
		if len(m.Tags) > 0 {
			mns = append(mns, "x-mns-message-tag:"+joinTags(m.Tags))
		}
	}
	slices.Sort(mns)
	var sts strings.Builder
	sts.Grow(256 + len(resource))
	sts.WriteString("POST\n")
	sts.WriteString(bodyMD5)
	sts.WriteByte('\n')
	sts.WriteString(ctype)
	sts.WriteByte('\n')
	sts.WriteString(date)
	sts.WriteByte('\n')
	for _, kv := range mns {
		sts.WriteString(kv)
		sts.WriteByte('\n')
		name, value, _ := strings.Cut(kv, ":")
		h[name] = []string{value}
	}
	sts.WriteString(resource)
	sig, err := key.Sign([]byte(sts.String()))
	if err != nil {
		return fmt.Errorf("push: sign: %w", err)
	}
	h["Authorization"] = []string{base64.StdEncoding.EncodeToString(sig)}
	h["Content-md5"] = []string{bodyMD5}
	h["Content-Type"] = []string{ctype}
	h["Date"] = []string{date}
	h["User-Agent"] = []string{UserAgentMNS}
	return nil
}

func randomRequestID() string {
	// math/rand/v2's generator (ChaCha8 per thread, seeded by the OS) is
	// random enough for an id and, unlike crypto/rand, costs no system call:
	// the profile of the end-to-end bench had crypto/rand, hex and ToUpper
	// at 3 % of herald's CPU.
	const digits = "0123456789ABCDEF"
	var b [24]byte
	for i, v := range [2]uint64{mrand.Uint64(), mrand.Uint64()} {
		for j := range 12 { // 12 digits from each 64-bit value
			b[12*i+j] = digits[v>>(4*j)&0xf]
		}
	}
	return string(b[:])
}
