// Package dashboard serves a read-only page of one account's topics, their
// subscriptions and its queues, with the figures an operator looks for
// first: retained messages, each subscription's backlog and given-up count,
// each queue's active, in-flight and delayed messages. The browser logs in
// with HTTP Basic auth: the account's SecretId as the user name and its
// SecretKey as the password.
package dashboard

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/herald-mq/herald/internal/account"
	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/delivery"
	"github.com/herald-mq/herald/internal/queue"
	"github.com/herald-mq/herald/internal/topic"
)

// Accounts finds the account a SecretId names.
type Accounts interface {
	Lookup(ctx context.Context, secretID string) (account.Key, error)
}

// Topics lists an account's topics and their subscriptions.
type Topics interface {
	ListTopics(appID int64, search string, offset, limit int) (int, []topic.Topic)
	Subscriptions(appID int64, topicName string) []*topic.Subscription
}

// Messages counts a topic's retained messages.
type Messages interface {
	MessageCount(ctx context.Context, appID int64, topicName string) (int64, error)
}

// Backlog counts a subscription's messages waiting for a retry.
type Backlog interface {
	Waiting(ctx context.Context, subID string) (int64, error)
}

// Stats reads a subscription's delivery counters.
type Stats interface {
	Counts(ctx context.Context, sub topic.Subscription) (delivery.Counts, error)
}

// Queues lists an account's queues and counts their messages.
type Queues interface {
	ListQueues(appID int64, search string, offset, limit int) (int, []queue.Queue)
	Stats(ctx context.Context, appID int64, name string) (queue.Queue, queue.Stats, error)
}

// Deps are what the page is made of. Backlog, Stats and Queues may be nil:
// their figures or section are left out.
type Deps struct {
	Accounts Accounts
	Topics   Topics
	Messages Messages
	Backlog  Backlog
	Stats    Stats
	Queues   Queues
	Clock    clock.Clock
	Log      *slog.Logger
}

// MaxRows is how many topics and how many queues the page lists.
const MaxRows = 1000

// Handler serves the page.
type Handler struct {
	deps Deps
}

// New returns the page's handler.
func New(deps Deps) (*Handler, error) {
	if deps.Accounts == nil || deps.Topics == nil || deps.Messages == nil {
		return nil, errors.New("dashboard: Accounts, Topics and Messages are required")
	}
	if deps.Clock == nil {
		deps.Clock = clock.Real{}
	}
	if deps.Log == nil {
		deps.Log = slog.Default()
	}
	return &Handler{deps: deps}, nil
}

// ServeHTTP answers GET with the page for the account the Basic credentials
// name, and 401 without valid ones.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	acct, ok := h.authenticate(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="herald", charset="UTF-8"`)
		http.Error(w, "log in with your SecretId and SecretKey", http.StatusUnauthorized)
		return
	}
	p, err := h.page(r.Context(), acct.AppID)
	if err != nil {
		h.deps.Log.Error("dashboard", "appid", acct.AppID, "err", err)
		http.Error(w, "the figures could not be read; try again", http.StatusServiceUnavailable)
		return
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, p); err != nil {
		h.deps.Log.Error("dashboard: render", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_, _ = w.Write(buf.Bytes())
}

func (h *Handler) authenticate(r *http.Request) (account.Key, bool) {
	id, key, ok := r.BasicAuth()
	if !ok || id == "" {
		return account.Key{}, false
	}
	acct, err := h.deps.Accounts.Lookup(r.Context(), id)
	if err != nil {
		return account.Key{}, false
	}
	return acct, subtle.ConstantTimeCompare([]byte(key), []byte(acct.SecretKey)) == 1
}

// page is what the template shows.
type page struct {
	AppID       int64
	Generated   string
	Topics      []topicRow
	TopicCount  int
	QueuesShown bool
	Queues      []queueRow
	QueueCount  int
}

type topicRow struct {
	topic.Topic
	Retained int64
	Subs     []subRow
}

type subRow struct {
	*topic.Subscription
	Backlog int64
	Counts  delivery.Counts
}

type queueRow struct {
	queue.Queue
	Stats queue.Stats
}

func (h *Handler) page(ctx context.Context, appID int64) (page, error) {
	p := page{AppID: appID, Generated: h.deps.Clock.Now().UTC().Format(time.RFC3339)}
	total, topics := h.deps.Topics.ListTopics(appID, "", 0, MaxRows)
	p.TopicCount = total
	for _, t := range topics {
		row := topicRow{Topic: t}
		var err error
		if row.Retained, err = h.deps.Messages.MessageCount(ctx, appID, t.Name); err != nil {
			return page{}, err
		}
		for _, s := range h.deps.Topics.Subscriptions(appID, t.Name) {
			sr := subRow{Subscription: s}
			if h.deps.Backlog != nil {
				if sr.Backlog, err = h.deps.Backlog.Waiting(ctx, s.ID); err != nil {
					return page{}, err
				}
			}
			if h.deps.Stats != nil {
				if sr.Counts, err = h.deps.Stats.Counts(ctx, *s); err != nil {
					return page{}, err
				}
			}
			row.Subs = append(row.Subs, sr)
		}
		p.Topics = append(p.Topics, row)
	}
	if h.deps.Queues == nil {
		return p, nil
	}
	p.QueuesShown = true
	total, queues := h.deps.Queues.ListQueues(appID, "", 0, MaxRows)
	p.QueueCount = total
	for _, q := range queues {
		_, st, err := h.deps.Queues.Stats(ctx, appID, q.Name)
		if errors.Is(err, queue.ErrQueueNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return page{}, err
		}
		p.Queues = append(p.Queues, queueRow{Queue: q, Stats: st})
	}
	return p, nil
}

var pageTemplate = template.Must(template.New("dashboard").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="10">
<title>herald · {{.AppID}}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-bottom: 2em; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.sub td:first-child { padding-left: 2em; color: #555; }
.bad { color: #b00; font-weight: bold; }
</style>
</head>
<body>
<h1>herald</h1>
<p>APPID {{.AppID}} · {{.Generated}} · refreshes every 10 s</p>

<h2>Topics ({{.TopicCount}})</h2>
<table>
<tr><th>topic / subscription</th><th>filter / protocol</th><th>endpoint</th><th>retry policy</th><th>format</th>
<th>retained</th><th>backlog</th><th>given up</th><th>signature rejected</th></tr>
{{- range .Topics}}
<tr><td><b>{{.Name}}</b></td><td>{{if eq .FilterType 2}}routing key{{else}}tags{{end}}</td><td></td><td></td><td></td>
<td class="n">{{.Retained}}</td><td></td><td></td><td></td></tr>
{{- range .Subs}}
<tr class="sub"><td>{{.Name}}</td><td>{{.Protocol}}</td><td>{{.Endpoint}}</td><td>{{.NotifyStrategy}}</td><td>{{.NotifyContentFormat}}</td>
<td></td><td class="n{{if .Backlog}} bad{{end}}">{{.Backlog}}</td><td class="n{{if .Counts.GivenUp}} bad{{end}}">{{.Counts.GivenUp}}</td>
<td class="n{{if .Counts.SignatureRejected}} bad{{end}}">{{.Counts.SignatureRejected}}</td></tr>
{{- end}}
{{- else}}
<tr><td colspan="9">no topics</td></tr>
{{- end}}
</table>
{{if .QueuesShown}}
<h2>Queues ({{.QueueCount}})</h2>
<table>
<tr><th>queue</th><th>active</th><th>in flight</th><th>delayed</th><th>oldest message</th><th>visibility timeout</th><th>dead letters to</th></tr>
{{- range .Queues}}
<tr><td><b>{{.Name}}</b></td><td class="n">{{.Stats.Active}}</td><td class="n">{{.Stats.Inactive}}</td><td class="n">{{.Stats.Delayed}}</td>
<td>{{if not .Stats.MinMsgTime.IsZero}}{{.Stats.MinMsgTime.UTC.Format "2006-01-02 15:04:05"}}{{end}}</td>
<td class="n">{{.VisibilityTimeout}} s</td><td>{{.DeadLetterQueue}}</td></tr>
{{- else}}
<tr><td colspan="7">no queues</td></tr>
{{- end}}
</table>
{{end}}
</body>
</html>
`))
