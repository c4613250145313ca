package cmq

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/herald-mq/herald/internal/account"
	"github.com/herald-mq/herald/internal/api/outcome"
	"github.com/herald-mq/herald/internal/clock"
)

// Config tunes the API.
type Config struct {
	// SignatureWindow is how far a request's Timestamp may be from now.
	// Defaults to 5 minutes.
	SignatureWindow time.Duration
	// MaxSubscriptionsPerTopic caps Subscribe (4500/10480). Defaults to 100.
	MaxSubscriptionsPerTopic int
	// AllowPrivateEndpoints accepts endpoints whose host is a literal
	// loopback, private or link-local address. Host names are checked when
	// pushes dial, whatever this says. Defaults to false.
	AllowPrivateEndpoints bool
	// EngineRetryTimeout bounds a request: an action the engine cannot serve
	// for now (no stream leader) is tried again until then, and then fails
	// with a retryable error. A receive gets its polling wait on top.
	// Defaults to 5 seconds.
	EngineRetryTimeout time.Duration
}

// WithDefaults returns the config with every unset field at its default.
func (c Config) WithDefaults() Config {
	c.SignatureWindow = cmp.Or(c.SignatureWindow, 5*time.Minute)
	c.MaxSubscriptionsPerTopic = cmp.Or(c.MaxSubscriptionsPerTopic, 100)
	c.EngineRetryTimeout = cmp.Or(c.EngineRetryTimeout, 5*time.Second)
	return c
}

// Deps are the services the API calls.
type Deps struct {
	Accounts Accounts
	// Topics serves the topic and subscription actions.
	Topics Topics
	// Messages publishes topic messages.
	Messages Messages
	// Stats reports delivery counters in GetSubscriptionAttributes; nil
	// reports zeros.
	Stats Stats
	// Backlog reports msgCount in GetSubscriptionAttributes; nil reports 0.
	Backlog Backlog
	// Nonces records the nonce of every signed request, so that a replay is
	// refused by any process, before or after a restart.
	Nonces Nonces
	// Queues serves the queue actions; nil leaves them out.
	Queues Queues
	// Engine classifies engine errors and tells whether its disk is full;
	// nil neither retries nor refuses anything.
	Engine Engine
	// Admin serves the account and key actions; nil leaves them out.
	Admin AccountAdmin
	Clock clock.Clock
	Log   *slog.Logger
}

// Request is one authenticated call.
type Request struct {
	// Account is the key that signed the request: its AppID is the account
	// the request acts for.
	Account   account.Key
	Params    Params
	RequestID string
}

// actionFunc serves one Action. Its response's JSON fields are added to the
// envelope; a response returned with an error (a batch's partial failure)
// is added to the error envelope.
type actionFunc func(ctx context.Context, req *Request) (any, error)

// Server is the http.Handler of the Action API.
type Server struct {
	cfg     Config
	deps    Deps
	verify  *verifier
	actions map[string]action
	// readParams, when set, hears of every parameter an action reads.
	readParams func(action string, r ParamRead)
}

// action is one Action of the table: its name as documented, and what
// serves it.
type action struct {
	name  string
	serve actionFunc
}

// New returns the API handler.
func New(cfg Config, deps Deps) (*Server, error) {
	cfg = cfg.WithDefaults()
	if deps.Accounts == nil || deps.Topics == nil || deps.Messages == nil || deps.Nonces == nil || deps.Log == nil {
		return nil, errors.New("cmq: Accounts, Topics, Messages, Nonces and Log are required")
	}
	deps.Clock = cmp.Or[clock.Clock](deps.Clock, clock.Real{})
	s := &Server{
		cfg:     cfg,
		deps:    deps,
		verify:  &verifier{accounts: deps.Accounts, clk: deps.Clock, window: cfg.SignatureWindow, nonces: deps.Nonces},
		actions: map[string]action{},
	}
	s.addTopicActions()
	s.addPublishActions()
	// The TDMQ-era Go SDK (yougg/cmq-go-tdmq) asks where to send data-flow
	// requests; herald serves everything here, so there is no other address.
	noRoute := func(context.Context, *Request) (any, error) {
		return struct {
			Addr []string `json:"addr"`
		}{[]string{}}, nil
	}
	s.add("QueryQueueRoute", noRoute)
	s.add("QueryTopicRoute", noRoute)
	if deps.Queues != nil {
		s.addQueueActions()
	}
	if deps.Admin != nil {
		s.addAccountActions()
	}
	return s, nil
}

// params are the parameters of a request naming action.
func (s *Server) params(action string, form *Form) Params {
	p := Params{f: form}
	if s.readParams != nil {
		p.read = func(r ParamRead) { s.readParams(action, r) }
	}
	return p
}

func (s *Server) add(name string, f actionFunc) {
	s.actions[strings.ToLower(name)] = action{name: name, serve: f}
}

// ServeHTTP answers every request with HTTP 200 and a JSON envelope.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := strconv.FormatUint(rand.Uint64()>>1, 10)
	var form *Form
	out := outcome.From(r.Context())
	if out != nil {
		out.Code = "0"
	}
	resp, err := func() (any, error) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			return nil, errMethod(r.Method)
		}
		var err error
		form, err = ReadForm(r)
		if err != nil {
			var dup *ErrDuplicateParam
			if errors.As(err, &dup) {
				return nil, errRepeated(dup.Key)
			}
			return nil, errParse(err.Error())
		}
		name, _ := form.Get("Action")
		a, ok := s.actions[strings.ToLower(name)]
		if ok && out != nil {
			out.Action = a.name
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.bound(name, form))
		defer cancel()
		acct, err := s.verify.verify(ctx, r, form)
		if err != nil {
			return nil, err
		}
		if name == "" {
			return nil, errMissing("Action")
		}
		if !ok {
			return nil, errNoAction(name)
		}
		return s.run(ctx, a.name, a.serve, &Request{Account: acct, Params: s.params(a.name, form), RequestID: requestID})
	}()
	if err != nil {
		if s.deps.Engine != nil {
			err = s.deps.Engine.Classify(err)
		}
		wire, unexpected := wireError(err)
		if unexpected {
			s.deps.Log.Error("cmq action failed", "requestId", requestID, "err", err)
		}
		if out != nil {
			out.Code = strconv.Itoa(wire.Code)
		}
		writeEnvelope(w, wire.Code, wire.Error(), requestID, form, resp)
		return
	}
	writeEnvelope(w, 0, "", requestID, form, resp)
}

// writeEnvelope writes {"code","message","requestId"[,"clientRequestId"]}
// followed by the fields of resp.
func writeEnvelope(w http.ResponseWriter, code int, message, requestID string, form *Form, resp any) {
	bp := envelopeBufs.Get().(*[]byte)
	b := (*bp)[:0]
	b = append(b, `{"code":`...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, message)
	b = append(b, `,"requestId":`...)
	b = appendJSONString(b, requestID)
	if form != nil {
		if id, ok := form.Get("clientRequestId"); ok {
			b = append(b, `,"clientRequestId":`...)
			if n, err := strconv.ParseUint(id, 10, 64); err == nil {
				b = strconv.AppendUint(b, n, 10)
			} else {
				b = appendJSONString(b, id)
			}
		}
	}
	switch r := resp.(type) {
	case nil:
	case fieldsAppender:
		b = append(b, ',')
		b = r.appendFields(b)
	default:
		fields, err := json.Marshal(resp)
		if err == nil && len(fields) > 2 && fields[0] == '{' {
			b = append(b, ',')
			b = append(b, fields[1:len(fields)-1]...)
		}
	}
	b = append(b, '}')
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	if cap(b) <= maxPooledBody {
		*bp = b
		envelopeBufs.Put(bp)
	}
}

var envelopeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// fieldsAppender is a response that writes its JSON fields itself (no
// braces, at least one field), byte for byte as encoding/json would, to
// spare the reflection on the publish path.
type fieldsAppender interface {
	appendFields(b []byte) []byte
}

// appendJSONString appends s as encoding/json writes a string.
func appendJSONString(b []byte, s string) []byte {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			enc, _ := json.Marshal(s)
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
