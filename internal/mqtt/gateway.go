package mqtt

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/mochi-mqtt/server/v2/packets"
	"golang.org/x/time/rate"

	"github.com/herald-mq/herald/internal/clock"
)

// injector takes a publish packet into the broker as if client clientID had
// sent it.
type injector interface {
	inject(clientID string, pk packets.Packet) error
}

// Gateway is the HTTP publish gateway: POST /topics/{url-encoded-topic}. It
// answers 200 with an X-Message-Id header once the broker has accepted the
// message, or a status from statusTable with a short plain-text body.
type Gateway struct {
	broker  injector
	dir     *directory
	limits  *limiter
	maxBody int64
	log     *slog.Logger
	connSeq atomic.Uint64 // connection ids when no connContext assigned one
}

// ServeHTTP publishes one message. Every request is authenticated and
// authorized on its own, whether it shares a keep-alive connection or not.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, err := g.publish(r)
	h := w.Header()
	if err != nil {
		status, body, internal := httpStatus(err)
		if internal {
			g.log.Error("mqtt gateway: publish failed", "error", err, "path", r.URL.Path)
		}
		h["Content-Type"] = []string{"text/plain; charset=utf-8"}
		h["X-Content-Type-Options"] = []string{"nosniff"}
		if status == http.StatusMethodNotAllowed {
			h["Allow"] = []string{http.MethodPost}
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body+"\n")
		return
	}
	h["X-Message-Id"] = []string{id}
	h["Content-Length"] = []string{"0"}
	w.WriteHeader(http.StatusOK)
}

// publish runs the checks in the order that spends the least on bad
// requests: method, identity, rate, parameters, ACL, then the body.
func (g *Gateway) publish(r *http.Request) (string, error) {
	if r.Method != http.MethodPost {
		return "", ErrMethodNotAllowed
	}
	identity, cn, err := g.authenticate(r)
	if err != nil {
		return "", err
	}
	if !g.limits.allow(identity) {
		return "", ErrRateLimited
	}
	req, err := parseRequest(r.URL.EscapedPath(), r.URL.RawQuery)
	if err != nil {
		return "", err
	}
	clientID := req.clientID
	switch {
	case cn != "":
		clientID = cn
	case clientID == "":
		clientID = "http-" + strconv.FormatUint(g.connID(r.Context()), 10)
	}
	if !g.dir.mayPublish(identity, clientID, req.topic) {
		return "", ErrNotAuthorized
	}
	payload, err := g.readBody(r)
	if err != nil {
		return "", err
	}
	if req.props.PayloadFormat == 1 && !utf8.Valid(payload) {
		return "", &RequestError{Param: "payload", Reason: "not UTF-8 but PayloadFormatIndicator is 1", Err: ErrBadPayload}
	}
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: req.qos, Retain: req.retain},
		TopicName:   req.topic,
		Payload:     payload,
		Properties:  req.props,
	}
	if req.qos > 0 {
		pk.PacketID = 1 // validity only: the broker treats gateway publishes as already acknowledged
	}
	if err := g.broker.inject(clientID, pk); err != nil {
		return "", err
	}
	return newMessageID(), nil
}

// authenticate returns the identity whose ACL and rate apply, and the Common
// Name of a verified client certificate. Basic credentials, when sent, must
// be right even if a certificate is present.
func (g *Gateway) authenticate(r *http.Request) (identity, cn string, err error) {
	if r.TLS != nil {
		cn, _ = verifiedCN(*r.TLS)
	}
	if _, sent := r.Header["Authorization"]; sent {
		user, password, ok := r.BasicAuth()
		if !ok || !g.dir.check(user, []byte(password)) {
			return "", "", ErrUnauthenticated
		}
		return user, cn, nil
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		return cn, cn, nil
	}
	if g.dir.anonymous {
		return "", "", nil
	}
	return "", "", ErrUnauthenticated
}

func (g *Gateway) readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > g.maxBody {
		return nil, g.tooLarge()
	}
	var body []byte
	var err error
	if r.ContentLength >= 0 {
		body = make([]byte, r.ContentLength)
		_, err = io.ReadFull(r.Body, body)
	} else {
		body, err = io.ReadAll(io.LimitReader(r.Body, g.maxBody+1))
		if int64(len(body)) > g.maxBody {
			return nil, g.tooLarge()
		}
	}
	if err != nil {
		return nil, &RequestError{Param: "payload", Reason: "cannot read the body", Err: ErrBadPayload}
	}
	return body, nil
}

func (g *Gateway) tooLarge() error {
	return &RequestError{Param: "payload", Reason: "larger than " + strconv.FormatInt(g.maxBody, 10) + " bytes", Err: ErrBadPayload}
}

type connIDKey struct{}

// connContext gives each gateway connection the id that names its default
// client id, http-<id>.
func (g *Gateway) connContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connIDKey{}, g.connSeq.Add(1))
}

func (g *Gateway) connID(ctx context.Context) uint64 {
	if id, ok := ctx.Value(connIDKey{}).(uint64); ok {
		return id
	}
	return g.connSeq.Add(1)
}

// newMessageID returns 32 upper-case hex characters of randomness.
func newMessageID() string {
	const hex = "0123456789ABCDEF"
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	var s [32]byte
	for i, c := range b {
		s[2*i], s[2*i+1] = hex[c>>4], hex[c&15]
	}
	return string(s[:])
}

// limiter is a token bucket per identity, timed by the injected clock. The
// identities are configured users and certificate names, so the map stays
// small.
type limiter struct {
	clk     clock.Clock
	rate    rate.Limit
	burst   int
	buckets sync.Map // identity -> *rate.Limiter
}

// newLimiter returns nil (no limit) for a negative rate.
func newLimiter(perSecond float64, clk clock.Clock) *limiter {
	if perSecond < 0 {
		return nil
	}
	return &limiter{clk: clk, rate: rate.Limit(perSecond), burst: max(1, int(perSecond))}
}

func (l *limiter) allow(identity string) bool {
	if l == nil {
		return true
	}
	b, ok := l.buckets.Load(identity)
	if !ok {
		b, _ = l.buckets.LoadOrStore(identity, rate.NewLimiter(l.rate, l.burst))
	}
	return b.(*rate.Limiter).AllowN(l.clk.Now(), 1)
}
