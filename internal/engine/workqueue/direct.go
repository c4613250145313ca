package workqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Direct reads of the stream (AllowDirect): answered by any replica,
// without going through the stream's leader.

// FirstAt returns the sequence of the first message on subject stored at or
// after t, or the next sequence to be stored if there is none.
func (q *Queue) FirstAt(ctx context.Context, subject string, t time.Time) (uint64, error) {
	req, _ := json.Marshal(struct {
		StartTime time.Time `json:"start_time"`
		NextFor   string    `json:"next_by_subj"`
	}{t.UTC(), subject})
	resp, err := q.e.nc.RequestWithContext(ctx, "$JS.API.DIRECT.GET."+q.stream, req)
	if err != nil {
		return 0, fmt.Errorf("workqueue: find sequence: %w", err)
	}
	if seq := resp.Header.Get(jetstream.SequenceHeader); seq != "" {
		if n, err := strconv.ParseUint(seq, 10, 64); err == nil {
			return n, nil
		}
	}
	st, err := q.StreamState(ctx, "")
	if err != nil {
		return 0, err
	}
	return st.LastSeq + 1, nil
}

// FirstTime returns when the first message on subject at or after seq was
// stored; ok is false when there is none.
func (q *Queue) FirstTime(ctx context.Context, subject string, seq uint64) (time.Time, bool) {
	s, err := q.e.js.Stream(ctx, q.stream)
	if err != nil {
		return time.Time{}, false
	}
	m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
	if err != nil {
		return time.Time{}, false
	}
	return m.Time, true
}

// CountFrom returns how many messages the stream holds on subject.
func (q *Queue) CountFrom(ctx context.Context, subject string) (int64, error) {
	req := fmt.Appendf(nil, `{"batch":1,"next_by_subj":%q}`, subject)
	resp, err := q.e.nc.RequestWithContext(ctx, "$JS.API.DIRECT.GET."+q.stream, req)
	if err != nil {
		return 0, fmt.Errorf("workqueue: count: %w", gone(err))
	}
	switch resp.Header.Get("Status") {
	case "404":
		return 0, nil
	case "":
	default:
		return 0, fmt.Errorf("workqueue: count: engine answered %s %s", resp.Header.Get("Status"), resp.Header.Get("Description"))
	}
	// The first message, with how many more there are after it.
	n, err := strconv.ParseInt(resp.Header.Get("Nats-Num-Pending"), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("workqueue: count: %w", err)
	}
	return n + 1, nil
}

// scanBatch is how many messages one engine request returns at most.
const scanBatch = 256

// Scan reads, in order, every message on subject stored after sequence
// after, calling each with its sequence and body; it stops at the first
// error each returns.
func (q *Queue) Scan(ctx context.Context, subject string, after uint64, each func(seq uint64, data []byte) error) error {
	nc := q.e.nc
	inbox := nc.NewInbox()
	ch := make(chan *nats.Msg, scanBatch+2)
	sub, err := nc.ChanSubscribe(inbox, ch)
	if err != nil {
		return fmt.Errorf("workqueue: scan: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	for {
		req := fmt.Appendf(nil, `{"seq":%d,"next_by_subj":%q,"batch":%d}`, after+1, subject, scanBatch)
		if err := nc.PublishRequest("$JS.API.DIRECT.GET."+q.stream, inbox, req); err != nil {
			return fmt.Errorf("workqueue: scan: %w", err)
		}
		last, more, err := scanReplies(ctx, ch, after, each)
		if err != nil || !more {
			return err
		}
		after = last
	}
}

// scanReplies takes in one batch; it returns the last sequence read and
// whether more are stored after it.
func scanReplies(ctx context.Context, ch <-chan *nats.Msg, after uint64, each func(seq uint64, data []byte) error) (uint64, bool, error) {
	last := after
	for {
		select {
		case m := <-ch:
			switch code := m.Header.Get("Status"); code {
			case "":
			case "404": // nothing stored after
				return last, false, nil
			case "204": // end of batch
				return last, m.Header.Get("Nats-Num-Pending") != "0", nil
			default:
				return last, false, fmt.Errorf("workqueue: scan: engine answered %s %s", code, m.Header.Get("Description"))
			}
			seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
			if err != nil {
				return last, false, fmt.Errorf("workqueue: scan: sequence %q: %w", m.Header.Get(jetstream.SequenceHeader), err)
			}
			if err := each(seq, m.Data); err != nil {
				return last, false, err
			}
			last = seq
		case <-ctx.Done():
			return last, false, fmt.Errorf("workqueue: scan: %w", ctx.Err())
		}
	}
}
