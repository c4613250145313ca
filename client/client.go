package client

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultPath is the API path used when the endpoint URL has none.
const DefaultPath = "/v2/index.php"

// DefaultRequestClient is the RequestClient parameter sent unless
// WithRequestClient says otherwise.
const DefaultRequestClient = "herald-go/1"

// maxPollingWait is the longest a server holds a (Batch)ReceiveMessage; a
// request without pollingWaitSeconds may wait that long (the queue attribute).
const maxPollingWait = 30 * time.Second

// maxResponse bounds the body read: 16 messages of at most 1 MiB each, with
// JSON escaping, fit comfortably.
const maxResponse = 64 << 20

// Client calls the CMQ Action API of one endpoint with one key pair. It is
// safe for concurrent use.
type Client struct {
	url        string // endpoint with path, no query
	host, path string // as signed
	secretID   string
	secretKey  string
	cfg        config
}

type config struct {
	httpClient      *http.Client
	signatureMethod string
	method          string
	now             func() time.Time
	nonce           func() uint64
	requestClient   string
	timeout         time.Duration
}

// Option configures a Client in New.
type Option func(*config)

// WithHTTPClient sets the HTTP client. A non-zero hc.Timeout is lengthened
// by the poll time for (Batch)ReceiveMessage. Defaults to a client on
// http.DefaultTransport without its own timeout.
func WithHTTPClient(hc *http.Client) Option { return func(c *config) { c.httpClient = hc } }

// WithSignatureMethod sets the signature method, HmacSHA1 or HmacSHA256.
// Defaults to HmacSHA1.
func WithSignatureMethod(method string) Option {
	return func(c *config) { c.signatureMethod = method }
}

// WithMethod sets the HTTP method: http.MethodPost sends the parameters as a
// form body, http.MethodGet puts all of them in the query string. Defaults to
// POST.
func WithMethod(method string) Option { return func(c *config) { c.method = method } }

// WithClock sets the source of the Timestamp parameter. Defaults to time.Now.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithNonce sets the source of the Nonce parameter, which the server uses to
// refuse replays, so it must not repeat within the timestamp window. Defaults
// to a random positive 63-bit number.
func WithNonce(nonce func() uint64) Option { return func(c *config) { c.nonce = nonce } }

// WithRequestClient sets the RequestClient parameter. Defaults to
// DefaultRequestClient.
func WithRequestClient(name string) Option { return func(c *config) { c.requestClient = name } }

// WithTimeout bounds each request; (Batch)ReceiveMessage gets the poll time
// on top. Zero leaves only ctx and the HTTP client to bound it. Defaults to
// 10 seconds.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

func (c config) withDefaults() config {
	c.httpClient = cmp.Or(c.httpClient, &http.Client{})
	c.signatureMethod = cmp.Or(c.signatureMethod, HmacSHA1)
	c.method = cmp.Or(c.method, http.MethodPost)
	if c.now == nil {
		c.now = time.Now
	}
	if c.nonce == nil {
		c.nonce = randomNonce
	}
	c.requestClient = cmp.Or(c.requestClient, DefaultRequestClient)
	return c
}

func (c config) validate() error {
	if c.signatureMethod != HmacSHA1 && c.signatureMethod != HmacSHA256 {
		return fmt.Errorf("client: signature method %q is neither %s nor %s", c.signatureMethod, HmacSHA1, HmacSHA256)
	}
	if c.method != http.MethodPost && c.method != http.MethodGet {
		return fmt.Errorf("client: HTTP method %q is neither POST nor GET", c.method)
	}
	if c.timeout < 0 {
		return fmt.Errorf("client: negative timeout %v", c.timeout)
	}
	return nil
}

func randomNonce() uint64 { return uint64(rand.Int64N(math.MaxInt64)) + 1 }

// New returns a Client for endpoint, e.g. "http://127.0.0.1:8080". The path
// of the URL is used as given and defaults to DefaultPath; the host[:port] is
// signed exactly as written.
func New(endpoint, secretID, secretKey string, opts ...Option) (*Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("client: endpoint: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("client: endpoint %q: scheme must be http or https", endpoint)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("client: endpoint %q has no host", endpoint)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: endpoint %q must not have a query or fragment", endpoint)
	}
	if secretID == "" || secretKey == "" {
		return nil, errors.New("client: secretID and secretKey are required")
	}
	cfg := config{timeout: 10 * time.Second}
	for _, opt := range opts {
		opt(&cfg)
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if u.Path == "" {
		u.Path, u.RawPath = DefaultPath, ""
	}
	return &Client{
		url:       u.Scheme + "://" + u.Host + u.EscapedPath(),
		host:      u.Host,
		path:      u.Path,
		secretID:  secretID,
		secretKey: secretKey,
		cfg:       cfg,
	}, nil
}

// Meta is what every response carries besides the action's fields.
type Meta struct {
	// RequestID is the server's id for the request.
	RequestID string `json:"-"`
	// ClientRequestID is the echo of Common.ClientRequestID, "" when not sent.
	ClientRequestID string `json:"-"`
}

func (m *Meta) setMeta(v Meta) { *m = v }

// Common holds what every action accepts besides its own parameters. It is
// embedded in every request struct.
type Common struct {
	// ClientRequestID is sent as clientRequestId when not empty; the server
	// echoes it in Meta.ClientRequestID. SDKs send a uint64.
	ClientRequestID string
	// Extra parameters are sent after the action's own, for parameters herald
	// adds to an action (e.g. a dead-letter policy on CreateQueue).
	Extra []Param
}

func (c *Common) common() *Common { return c }

// request is implemented by every *XxxRequest.
type request interface {
	action() string
	encode(e *encoder)
	common() *Common
}

// encoder collects an action's parameters.
type encoder struct{ params []Param }

func (e *encoder) str(key, value string) { e.params = append(e.params, Param{Key: key, Value: value}) }

// optStr sends value only when it is not empty.
func (e *encoder) optStr(key, value string) {
	if value != "" {
		e.str(key, value)
	}
}

func (e *encoder) int(key string, value int64) { e.str(key, strconv.FormatInt(value, 10)) }

// optInt sends *value only when value is not nil.
func (e *encoder) optInt(key string, value *int) {
	if value != nil {
		e.int(key, int64(*value))
	}
}

// list sends key.1 … key.n.
func (e *encoder) list(key string, values []string) {
	for i, v := range values {
		e.str(key+"."+strconv.Itoa(i+1), v)
	}
}

func params(req request) (string, []Param) {
	var e encoder
	req.encode(&e)
	com := req.common()
	e.optStr("clientRequestId", com.ClientRequestID)
	e.params = append(e.params, com.Extra...)
	return req.action(), e.params
}

// call sends req and decodes the response into an R.
func call[R any, PR interface {
	*R
	setMeta(Meta)
}](ctx context.Context, c *Client, req request) (*R, error) {
	action, ps := params(req)
	raw, meta, err := c.send(ctx, action, ps)
	if err != nil {
		return nil, err
	}
	res := PR(new(R))
	if err := json.Unmarshal(raw, res); err != nil {
		return nil, fmt.Errorf("cmq %s: %w: %w", action, ErrMalformedResponse, err)
	}
	res.setMeta(meta)
	return res, nil
}

// Do calls any action by name with the given parameters (without the common
// ones, which Do adds and signs) and returns the whole JSON response. When
// the response code is not 0 it returns the body and an *Error.
func (c *Client) Do(ctx context.Context, action string, params []Param) (json.RawMessage, error) {
	raw, _, err := c.send(ctx, action, params)
	if err == nil && !json.Valid(raw) {
		return nil, fmt.Errorf("cmq %s: %w: invalid JSON", action, ErrMalformedResponse)
	}
	return raw, err
}

// envelope is the part of every response that send checks.
type envelope struct {
	Code            *int            `json:"code"`
	Message         string          `json:"message"`
	RequestID       json.RawMessage `json:"requestId"`
	ClientRequestID json.RawMessage `json:"clientRequestId"`
}

// send signs and sends one action. It returns the body also with an *Error,
// for the actions whose error responses carry fields.
func (c *Client) send(ctx context.Context, action string, actionParams []Param) (json.RawMessage, Meta, error) {
	ps := make([]Param, 0, len(actionParams)+7)
	ps = append(ps,
		Param{Key: "Action", Value: action},
		Param{Key: "Nonce", Value: strconv.FormatUint(c.cfg.nonce(), 10)},
		Param{Key: "RequestClient", Value: c.cfg.requestClient},
		Param{Key: "SecretId", Value: c.secretID},
		Param{Key: "SignatureMethod", Value: c.cfg.signatureMethod},
		Param{Key: "Timestamp", Value: strconv.FormatInt(c.cfg.now().Unix(), 10)},
	)
	ps = append(ps, actionParams...)
	// Sorted once, for the string to sign and for the form alike.
	slices.SortStableFunc(ps, compareKeys)
	buf := signBufs.Get().(*[]byte)
	sts := AppendStringToSign((*buf)[:0], c.cfg.method, c.host, c.path, ps)
	sig := SignBytes(c.cfg.signatureMethod, c.secretKey, sts)
	if cap(sts) <= maxPooledSignBuf {
		*buf = sts
		signBufs.Put(buf)
	}
	form := encodeForm(ps, sig)

	hc := c.cfg.httpClient
	wait := pollTime(action, actionParams)
	if c.cfg.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.timeout+wait)
		defer cancel()
	}
	if hc.Timeout > 0 && wait > 0 {
		longer := *hc
		longer.Timeout += wait
		hc = &longer
	}

	var req *http.Request
	var err error
	if c.cfg.method == http.MethodGet {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, c.url+"?"+form, nil)
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, c.url, strings.NewReader(form))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err != nil {
		return nil, Meta{}, fmt.Errorf("cmq %s: %w", action, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, Meta{}, &TransportError{Action: action, Err: err}
	}
	defer resp.Body.Close()
	raw, err := readBody(resp.Body, resp.ContentLength, maxResponse+1)
	if err != nil {
		return nil, Meta{}, &TransportError{Action: action, StatusCode: resp.StatusCode, Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, Meta{}, &TransportError{Action: action, StatusCode: resp.StatusCode, Body: string(raw[:min(len(raw), 512)])}
	}
	if len(raw) > maxResponse {
		return nil, Meta{}, fmt.Errorf("cmq %s: %w: body over %d bytes", action, ErrMalformedResponse, maxResponse)
	}
	// The envelope is read without decoding the rest, which the caller
	// decodes (and so validates) once; a body returned unread is validated
	// here.
	env, scanned := scanEnvelope(raw)
	if !scanned {
		env = envelope{}
		if err := json.Unmarshal(raw, &env); err != nil {
			return nil, Meta{}, fmt.Errorf("cmq %s: %w: %w", action, ErrMalformedResponse, err)
		}
	}
	if env.Code == nil {
		return nil, Meta{}, fmt.Errorf("cmq %s: %w: no code", action, ErrMalformedResponse)
	}
	meta := Meta{RequestID: jsonText(env.RequestID), ClientRequestID: jsonText(env.ClientRequestID)}
	if *env.Code != 0 {
		if scanned && !json.Valid(raw) {
			return nil, Meta{}, fmt.Errorf("cmq %s: %w: invalid JSON", action, ErrMalformedResponse)
		}
		return raw, meta, newError(*env.Code, env.Message, meta.RequestID)
	}
	return raw, meta, nil
}

// readBody reads r up to limit bytes, in one allocation when size (the
// Content-Length, -1 when unknown) is right.
func readBody(r io.Reader, size, limit int64) ([]byte, error) {
	if size < 0 || size >= limit {
		size = 512
	}
	b := make([]byte, 0, size+1)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if int64(len(b)) >= limit {
			return b[:limit], nil
		}
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// signBufs hold strings to sign between requests.
var signBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooledSignBuf keeps the buffers of unusually big requests out of the pool.
const maxPooledSignBuf = 256 << 10

// encodeForm writes the parameters, sorted by key, values escaped as
// url.QueryEscape does and keys as they are (as the SDKs do), then Signature.
func encodeForm(sorted []Param, signature string) string {
	n := len("Signature=") + 3*len(signature)
	for _, p := range sorted {
		n += len(p.Key) + len(p.Value) + 2
	}
	var b strings.Builder
	b.Grow(n)
	for _, p := range sorted {
		if p.Key == "Signature" {
			continue
		}
		b.WriteString(p.Key)
		b.WriteByte('=')
		writeQueryEscaped(&b, p.Value)
		b.WriteByte('&')
	}
	b.WriteString("Signature=")
	writeQueryEscaped(&b, signature)
	return b.String()
}

// writeQueryEscaped writes url.QueryEscape(s) without making it first.
func writeQueryEscaped(b *strings.Builder, s string) {
	start := 0
	for i := range len(s) {
		c := s[i]
		if !escaped[c] {
			continue
		}
		b.WriteString(s[start:i])
		if c == ' ' {
			b.WriteByte('+')
		} else {
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&0x0f])
		}
		start = i + 1
	}
	b.WriteString(s[start:])
}

const upperHex = "0123456789ABCDEF"

// escaped says which bytes url.QueryEscape escapes: all but letters, digits
// and "-_.~".
var escaped = func() (t [256]bool) {
	for c := range t {
		t[c] = true
	}
	for _, c := range []byte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~") {
		t[c] = false
	}
	return t
}()

// pollTime is how long the server may hold a receive before answering.
func pollTime(action string, ps []Param) time.Duration {
	if action != "ReceiveMessage" && action != "BatchReceiveMessage" {
		return 0
	}
	for _, p := range ps {
		if p.Key == "pollingWaitSeconds" {
			if n, err := strconv.Atoi(p.Value); err == nil && n >= 0 {
				return time.Duration(n) * time.Second
			}
		}
	}
	return maxPollingWait
}

// jsonText is a JSON string's value or a number's digits; "" for null or
// absent.
func jsonText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}
