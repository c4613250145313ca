package mns

import (
	"cmp"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/herald-mq/herald/internal/account"
	"github.com/herald-mq/herald/internal/api/outcome"
	"github.com/herald-mq/herald/internal/clock"
)

// Version is the API version MNS SDKs send in x-mns-version.
const Version = "2015-06-06"

// Config tunes the API.
type Config struct {
	// SignatureWindow is how far a request's Date may be from now.
	// Defaults to 15 minutes (MNS's).
	SignatureWindow time.Duration
	// MaxSubscriptionsPerTopic caps Subscribe. Defaults to 100.
	MaxSubscriptionsPerTopic int
	// AllowPrivateEndpoints accepts endpoints whose host is a literal
	// loopback, private or link-local address. Defaults to false.
	AllowPrivateEndpoints bool
	// MaxBodyBytes caps a request body. Defaults to 2 MiB (a batch of 16
	// messages of 64 KiB, escaped).
	MaxBodyBytes int64
}

// WithDefaults returns the config with every unset field at its default.
func (c Config) WithDefaults() Config {
	c.SignatureWindow = cmp.Or(c.SignatureWindow, 15*time.Minute)
	c.MaxSubscriptionsPerTopic = cmp.Or(c.MaxSubscriptionsPerTopic, 100)
	c.MaxBodyBytes = cmp.Or(c.MaxBodyBytes, 2<<20)
	return c
}

func (c Config) validate() error {
	if c.SignatureWindow < 0 || c.MaxSubscriptionsPerTopic < 1 || c.MaxBodyBytes < 1 {
		return errors.New("mns: SignatureWindow, MaxSubscriptionsPerTopic and MaxBodyBytes must be positive")
	}
	return nil
}

// Deps are the services the API calls.
type Deps struct {
	Accounts Accounts
	// Topics serves topics and subscriptions; Messages publishes.
	Topics   Topics
	Messages Messages
	// Queues serves the queue actions.
	Queues Queues
	// Clock checks request dates. Defaults to the real clock.
	Clock clock.Clock
	Log   *slog.Logger
}

// Server is the http.Handler of the MNS REST API.
type Server struct {
	cfg  Config
	deps Deps
}

// New returns the API handler.
func New(cfg Config, deps Deps) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if deps.Accounts == nil || deps.Topics == nil || deps.Messages == nil || deps.Queues == nil || deps.Log == nil {
		return nil, errors.New("mns: Accounts, Topics, Messages, Queues and Log are required")
	}
	deps.Clock = cmp.Or[clock.Clock](deps.Clock, clock.Real{})
	return &Server{cfg: cfg, deps: deps}, nil
}

// request is one authenticated call.
type request struct {
	acct  account.Key
	http  *http.Request
	body  []byte
	query query
	// names are the path's names: the queue or topic, then the
	// subscription.
	names []string
}

// appID is the account the request acts for.
func (r *request) appID() int64 { return r.acct.AppID }

// url is the absolute URL of a path on this endpoint (Location, QueueURL…).
func (r *request) url(path string) string {
	scheme := "http"
	if r.http.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.http.Host + path
}

// reply is what an action answers: a status, an optional Location and an
// optional XML document.
type reply struct {
	status   int
	location string
	body     any
}

type handler func(ctx context.Context, req *request) (reply, error)

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := requestID()
	out := outcome.From(r.Context())
	rep, err := func() (reply, error) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
		if err != nil {
			return reply{}, errArgument.with("The request body is larger than %d bytes.", s.cfg.MaxBodyBytes)
		}
		q, err := parseQuery(r.URL.RawQuery)
		if err != nil {
			return reply{}, err
		}
		h, names, name := s.route(r.Method, r.URL.Path, q)
		if out != nil {
			out.Action = name
		}
		acct, err := s.authenticate(r.Context(), r, body)
		if err != nil {
			return reply{}, err
		}
		if h == nil {
			return reply{}, errRequestURL.with("%s %s is not an MNS operation.", r.Method, r.URL.Path)
		}
		return h(r.Context(), &request{acct: acct, http: r, body: body, query: q, names: names})
	}()
	hdr := w.Header()
	hdr.Set("x-mns-request-id", id)
	hdr.Set("x-mns-version", Version)
	hdr.Set("Date", httpDate(s.deps.Clock.Now()))
	if err != nil {
		wire, unexpected := wireError(err)
		// A long poll ends with the client's connection; that is no failure.
		if unexpected && r.Context().Err() == nil {
			s.deps.Log.Error("mns request failed", "requestId", id, "method", r.Method, "path", r.URL.Path, "err", err)
		}
		if out != nil {
			out.Code = wire.Code
		}
		rep = reply{status: wire.Status, body: errorBody{
			NS: Namespace, Code: wire.Code, Message: wire.Message, RequestID: id, HostID: (&request{http: r}).url(""),
		}}
	}
	var b []byte
	if rep.body != nil {
		b = encode(rep.body)
		hdr.Set("Content-Type", "text/xml;charset=utf-8")
	}
	if rep.location != "" {
		hdr.Set("Location", rep.location)
	}
	hdr.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(rep.status)
	_, _ = w.Write(b)
}

// errorBody is MNS's error document.
type errorBody struct {
	XMLName   struct{} `xml:"Error"`
	NS        string   `xml:"xmlns,attr"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	RequestID string   `xml:"RequestId"`
	HostID    string   `xml:"HostId"`
}

// requestID is 24 upper-case hex digits, as MNS's request ids look.
func requestID() string {
	var b [24]byte
	hi, lo := rand.Uint64(), rand.Uint32()
	for i := range 16 {
		b[i] = upperHex[hi>>(60-4*i)&0xf]
	}
	for i := range 8 {
		b[16+i] = upperHex[lo>>(28-4*i)&0xf]
	}
	return string(b[:])
}

const upperHex = "0123456789ABCDEF"

// route finds the handler of a method and path, the names in the path, and
// the operation's name; a nil handler is an unknown operation.
func (s *Server) route(method, path string, q query) (handler, []string, string) {
	path = strings.TrimLeft(path, "/")
	parts := strings.Split(strings.TrimSuffix(path, "/"), "/")
	for _, p := range parts {
		if p == "" {
			return nil, nil, ""
		}
	}
	kind := parts[0]
	names := make([]string, 0, 2)
	switch {
	case kind == "queues" && len(parts) == 1:
		if method == http.MethodGet {
			return s.listQueue, nil, "ListQueue"
		}
	case kind == "queues" && len(parts) == 2:
		names = append(names, parts[1])
		switch method {
		case http.MethodPut:
			if q.has("metaoverride") {
				return s.setQueueAttributes, names, "SetQueueAttributes"
			}
			return s.createQueue, names, "CreateQueue"
		case http.MethodGet:
			return s.getQueueAttributes, names, "GetQueueAttributes"
		case http.MethodDelete:
			return s.deleteQueue, names, "DeleteQueue"
		}
	case kind == "queues" && len(parts) == 3 && parts[2] == "messages":
		names = append(names, parts[1])
		switch method {
		case http.MethodPost:
			return s.sendMessage, names, "SendMessage"
		case http.MethodGet:
			if strings.EqualFold(q.get("peekonly"), "true") {
				return s.peekMessage, names, "PeekMessage"
			}
			return s.receiveMessage, names, "ReceiveMessage"
		case http.MethodDelete:
			return s.deleteMessage, names, "DeleteMessage"
		case http.MethodPut:
			return s.changeMessageVisibility, names, "ChangeMessageVisibility"
		}
	case kind == "topics" && len(parts) == 1:
		if method == http.MethodGet {
			return s.listTopic, nil, "ListTopic"
		}
	case kind == "topics" && len(parts) == 2:
		names = append(names, parts[1])
		switch method {
		case http.MethodPut:
			if q.has("metaoverride") {
				return s.setTopicAttributes, names, "SetTopicAttributes"
			}
			return s.createTopic, names, "CreateTopic"
		case http.MethodGet:
			return s.getTopicAttributes, names, "GetTopicAttributes"
		case http.MethodDelete:
			return s.deleteTopic, names, "DeleteTopic"
		}
	case kind == "topics" && len(parts) == 3 && parts[2] == "messages":
		if method == http.MethodPost {
			return s.publishMessage, append(names, parts[1]), "PublishMessage"
		}
	case kind == "topics" && len(parts) == 3 && parts[2] == "subscriptions":
		if method == http.MethodGet {
			return s.listSubscriptionByTopic, append(names, parts[1]), "ListSubscriptionByTopic"
		}
	case kind == "topics" && len(parts) == 4 && parts[2] == "subscriptions":
		names = append(names, parts[1], parts[3])
		switch method {
		case http.MethodPut:
			if q.has("metaoverride") {
				return s.setSubscriptionAttributes, names, "SetSubscriptionAttributes"
			}
			return s.subscribe, names, "Subscribe"
		case http.MethodGet:
			return s.getSubscriptionAttributes, names, "GetSubscriptionAttributes"
		case http.MethodDelete:
			return s.unsubscribe, names, "Unsubscribe"
		}
	}
	return nil, nil, ""
}

// query is a request's query parameters by lower-cased name. Values are
// path-unescaped, so a "+" in a receipt handle the Python SDK sends raw
// stays a "+".
type query map[string]string

func parseQuery(raw string) (query, error) {
	q := query{}
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		k, err1 := url.PathUnescape(k)
		v, err2 := url.PathUnescape(v)
		if err1 != nil || err2 != nil {
			return nil, errQueryString
		}
		k = strings.ToLower(k)
		if _, dup := q[k]; dup {
			return nil, errQueryString.with("The query parameter %s is repeated.", k)
		}
		q[k] = v
	}
	return q, nil
}

func (q query) get(k string) string { return q[k] }

func (q query) has(k string) bool { _, ok := q[k]; return ok }

// intParam reads a numeric query parameter in [lo, hi]; absent is def.
func (q query) intParam(k, name string, lo, hi, def int64) (int64, error) {
	v, ok := q[k]
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, errArgument.with("The value of %s should between %d and %d.", name, lo, hi)
	}
	return n, nil
}
