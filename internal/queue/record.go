package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Receipt records make deletes and dequeue counts durable.
//
// The engine answers an acknowledgement, and hands out a delivery, before it
// has written the consumer's state: a file-store consumer writes its state
// at most every 100 ms, in the background (nats-server filestore.go,
// consumerFileStore.flushLoop). A kill -9 in between forgets acks (deleted
// messages come back) and deliveries (dequeueCount goes back). The stream,
// on the other hand, has written a message before it acknowledges the
// publish. So before herald answers a receive or a delete it stores a
// record on the message's own subject herald.q.<id>.r.<seq>:
//
//	n <rewinds> <count>   the message was handed out with dequeueCount count
//	d <rewinds>           the message was deleted (or dead-lettered)
//
// The consumer's state is only wrong after the engine lost it, so records
// are read only for messages stored before this process (re)connected to
// the engine: those get the last record of their subject looked up on
// every delivery; a "d" record drops the message, an "n" record raises the
// consumer's count to one above it. Records of an earlier rewind (rewinds,
// Queue.Rewinds) are ignored, since a rewind delivers everything again from
// a count of one. The janitor purges records with the messages they follow.

// recordKind is what a receipt record says happened to a message.
type recordKind byte

const (
	recordReceived recordKind = 'n'
	recordDeleted  recordKind = 'd'
)

// record is one decoded receipt record.
type record struct {
	kind    recordKind
	rewinds uint64
	count   uint64 // for recordReceived
}

func recordFilter(q *Queue) string {
	return subjectPrefix + strings.TrimPrefix(q.ID, "queue-") + ".r.>"
}

func recordSubject(q *Queue, seq uint64) string {
	return subjectPrefix + strings.TrimPrefix(q.ID, "queue-") + ".r." + strconv.FormatUint(seq, 10)
}

func receivedRecord(q *Queue, seq, count uint64) *nats.Msg {
	return &nats.Msg{Subject: recordSubject(q, seq), Data: fmt.Appendf(nil, "n %d %d", q.Rewinds, count)}
}

func deletedRecord(q *Queue, seq uint64) *nats.Msg {
	return &nats.Msg{Subject: recordSubject(q, seq), Data: fmt.Appendf(nil, "d %d", q.Rewinds)}
}

var errRecordFormat = errors.New("queue: undecodable receipt record")

func parseRecord(b []byte) (record, error) {
	f := strings.Fields(string(b))
	if len(f) < 2 || len(f[0]) != 1 {
		return record{}, fmt.Errorf("%w: %q", errRecordFormat, b)
	}
	r := record{kind: recordKind(f[0][0])}
	var err error
	if r.rewinds, err = strconv.ParseUint(f[1], 10, 64); err != nil {
		return record{}, fmt.Errorf("%w: %q", errRecordFormat, b)
	}
	switch {
	case r.kind == recordDeleted && len(f) == 2:
	case r.kind == recordReceived && len(f) == 3:
		if r.count, err = strconv.ParseUint(f[2], 10, 64); err != nil || r.count == 0 {
			return record{}, fmt.Errorf("%w: %q", errRecordFormat, b)
		}
	default:
		return record{}, fmt.Errorf("%w: %q", errRecordFormat, b)
	}
	return r, nil
}

// suspectBelow returns the first stream sequence of q stored after this
// process (re)connected to the engine: the consumer's state for messages
// below it may have been lost by an engine that stopped without writing it.
func (s *Service) suspectBelow(ctx context.Context, q *Queue) (uint64, error) {
	reconnects := s.deps.NC.Stats().Reconnects
	s.suspectMu.Lock()
	if reconnects != s.reconnects {
		s.suspect, s.reconnects = map[string]uint64{}, reconnects
	}
	below, ok := s.suspect[q.ID]
	s.suspectMu.Unlock()
	if ok {
		return below, nil
	}
	stream, err := s.deps.JS.Stream(ctx, streamName(q))
	if err != nil {
		return 0, fmt.Errorf("queue: receive: %w", s.engineErr(err))
	}
	below = stream.CachedInfo().State.LastSeq + 1
	s.suspectMu.Lock()
	if cur, ok := s.suspect[q.ID]; ok {
		below = cur
	} else if reconnects == s.reconnects {
		s.suspect[q.ID] = below
	}
	s.suspectMu.Unlock()
	return below, nil
}

// records returns the last receipt record of each of seqs that has one
// from the queue's current rewind.
func (s *Service) records(ctx context.Context, q *Queue, seqs []uint64) (map[uint64]record, error) {
	if len(seqs) == 0 {
		return nil, nil
	}
	subjects := make([]string, len(seqs))
	for i, seq := range seqs {
		subjects[i] = recordSubject(q, seq)
	}
	req, err := json.Marshal(struct {
		MultiLast []string `json:"multi_last"`
	}{subjects})
	if err != nil {
		return nil, err
	}
	nc := s.deps.NC
	inbox := nc.NewInbox()
	ch := make(chan *nats.Msg, len(seqs)+2)
	sub, err := nc.ChanSubscribe(inbox, ch)
	if err != nil {
		return nil, fmt.Errorf("queue: read records: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.PublishRequest("$JS.API.DIRECT.GET."+streamName(q), inbox, req); err != nil {
		return nil, fmt.Errorf("queue: read records: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out := map[uint64]record{}
	prefix := strings.TrimSuffix(recordFilter(q), ">")
	for {
		select {
		case m := <-ch:
			if len(m.Data) == 0 && m.Header.Get("Status") != "" {
				switch code := m.Header.Get("Status"); code {
				case "204", "404": // end of batch, or no record at all
					return out, nil
				default:
					return nil, fmt.Errorf("queue: read records: engine answered %s %s", code, m.Header.Get("Description"))
				}
			}
			seq, err := strconv.ParseUint(strings.TrimPrefix(m.Header.Get(jetstream.SubjectHeader), prefix), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%w: subject %q", errRecordFormat, m.Header.Get(jetstream.SubjectHeader))
			}
			r, err := parseRecord(m.Data)
			if err != nil {
				return nil, err
			}
			if r.rewinds == q.Rewinds {
				out[seq] = r
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("queue: read records: %w", ctx.Err())
		}
	}
}

// countRecords returns how many receipt records q's stream holds.
func (s *Service) countRecords(ctx context.Context, q *Queue) (int64, error) {
	req := fmt.Appendf(nil, `{"batch":1,"next_by_subj":%q}`, recordFilter(q))
	resp, err := s.deps.NC.RequestWithContext(ctx, "$JS.API.DIRECT.GET."+streamName(q), req)
	if err != nil {
		return 0, fmt.Errorf("queue: count records: %w", s.engineErr(err))
	}
	switch resp.Header.Get("Status") {
	case "404":
		return 0, nil
	case "":
	default:
		return 0, fmt.Errorf("queue: count records: engine answered %s %s", resp.Header.Get("Status"), resp.Header.Get("Description"))
	}
	// The first record, with how many more match after it.
	n, err := strconv.ParseInt(resp.Header.Get("Nats-Num-Pending"), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("queue: count records: %w", err)
	}
	return n + 1, nil
}
