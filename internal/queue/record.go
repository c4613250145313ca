package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/herald-mq/herald/internal/engine/stream"
)

// Receipt records make deletes and dequeue counts durable.
//
// The engine answers an acknowledgement, and hands out a delivery, before it
// has written the consumer's state: a file-store consumer writes its state
// at most every 100 ms, in the background (nats-server filestore.go,
// consumerFileStore.flushLoop). A kill -9 in between forgets acks (deleted
// messages come back) and deliveries (dequeueCount goes back). The stream,
// on the other hand, has written a message before it acknowledges the
// publish. So before herald answers a receive, a delete or a dead-lettering
// it stores one record of it on the queue's subject herald.q.<id>.r:
//
//	n <rewinds> <seq>:<count> ...   messages handed out with these dequeueCounts
//	d <rewinds> <seq> ...           messages deleted (or dead-lettered)
//
// A record is stored after every message it names, which lets the janitor
// purge records with their messages. The consumer's state is only wrong
// after the engine lost it, so records are read only for messages stored
// before this process (re)connected to the engine ("suspect" messages): the
// process reads every record once, and then those stored since, whenever
// it is handed a suspect message. A "d" drops the message; an "n" raises
// the engine's count to one above the recorded one. Records of an earlier
// rewind (Queue.Rewinds) are ignored, since a rewind delivers everything
// again from a count of one.

// recordKind is what a receipt record says happened to its messages.
type recordKind byte

const (
	recordReceived recordKind = 'n'
	recordDeleted  recordKind = 'd'
)

// record is what the records say last about one message.
type record struct {
	kind    recordKind
	rewinds uint64
	count   uint64 // for recordReceived
}

func recordSubject(q *Queue) string {
	return subjectPrefix + strings.TrimPrefix(q.ID, "queue-") + ".r"
}

// receivedRecord records counts[i] as the dequeueCount of seqs[i].
func receivedRecord(q *Queue, seqs, counts []uint64) stream.Msg {
	b := fmt.Appendf(make([]byte, 0, 16+len(seqs)*16), "%c %d", recordReceived, q.Rewinds)
	for i, seq := range seqs {
		b = fmt.Appendf(b, " %d:%d", seq, counts[i])
	}
	return stream.Msg{Subject: recordSubject(q), Data: b}
}

// deletedRecord records seqs as deleted.
func deletedRecord(q *Queue, seqs []uint64) stream.Msg {
	b := fmt.Appendf(make([]byte, 0, 16+len(seqs)*8), "%c %d", recordDeleted, q.Rewinds)
	for _, seq := range seqs {
		b = fmt.Appendf(b, " %d", seq)
	}
	return stream.Msg{Subject: recordSubject(q), Data: b}
}

var errRecordFormat = errors.New("queue: undecodable receipt record")

// parseRecord calls each for every message a record names.
func parseRecord(b []byte, each func(seq uint64, r record)) error {
	f := strings.Fields(string(b))
	bad := fmt.Errorf("%w: %q", errRecordFormat, b)
	if len(f) < 3 || len(f[0]) != 1 {
		return bad
	}
	kind := recordKind(f[0][0])
	rewinds, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil || kind != recordReceived && kind != recordDeleted {
		return bad
	}
	for _, e := range f[2:] {
		r := record{kind: kind, rewinds: rewinds}
		seqPart, countPart, hasCount := strings.Cut(e, ":")
		if hasCount != (kind == recordReceived) {
			return bad
		}
		seq, err := strconv.ParseUint(seqPart, 10, 64)
		if err != nil {
			return bad
		}
		if hasCount {
			if r.count, err = strconv.ParseUint(countPart, 10, 64); err != nil || r.count == 0 {
				return bad
			}
		}
		each(seq, r)
	}
	return nil
}

// recordIndex is what one process has read of one queue's records since it
// (re)connected to the engine.
type recordIndex struct {
	// below is the queue's first sequence stored after the connection:
	// messages below it are suspect. Set once.
	below uint64

	mu      sync.Mutex
	scanned uint64            // stream sequence read up to
	last    map[uint64]record // by message sequence, suspect messages only
}

// index returns the queue's record index for this connection.
func (s *Service) index(ctx context.Context, q *Queue) (*recordIndex, error) {
	reconnects := s.deps.Engine.Reconnects()
	s.suspectMu.Lock()
	if reconnects != s.reconnects {
		s.suspect, s.reconnects = map[string]*recordIndex{}, reconnects
	}
	idx, ok := s.suspect[q.ID]
	s.suspectMu.Unlock()
	if ok {
		return idx, nil
	}
	st, err := s.work(q).StreamState(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("queue: receive: %w", s.engineErr(err))
	}
	idx = &recordIndex{below: st.LastSeq + 1, last: map[uint64]record{}}
	s.suspectMu.Lock()
	defer s.suspectMu.Unlock()
	if cur, ok := s.suspect[q.ID]; ok {
		return cur, nil
	}
	if reconnects == s.reconnects {
		s.suspect[q.ID] = idx
	}
	return idx, nil
}

// records returns what the records say last about each of seqs, all
// suspect, from the queue's current rewind. It first reads every record
// stored since the last call.
func (s *Service) records(ctx context.Context, q *Queue, idx *recordIndex, seqs []uint64) (map[uint64]record, error) {
	idx.mu.Lock()
	defer idx.mu.Unlock()
	if err := s.scan(ctx, q, idx); err != nil {
		return nil, err
	}
	out := map[uint64]record{}
	for _, seq := range seqs {
		if r, ok := idx.last[seq]; ok && r.rewinds == q.Rewinds {
			out[seq] = r
		}
	}
	return out, nil
}

// scan reads the records stored after idx.scanned. idx.mu is held.
func (s *Service) scan(ctx context.Context, q *Queue, idx *recordIndex) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := s.work(q).Scan(ctx, recordSubject(q), idx.scanned, func(seq uint64, data []byte) error {
		err := parseRecord(data, func(msg uint64, r record) {
			// A process with settings from before a rewind may still
			// store a record of it; it does not undo a newer one.
			if prev, ok := idx.last[msg]; msg < idx.below && (!ok || r.rewinds >= prev.rewinds) {
				idx.last[msg] = r
			}
		})
		if err != nil {
			return err
		}
		idx.scanned = seq
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue: read records: %w", err)
	}
	return nil
}

// countRecords returns how many receipt records q's stream holds.
func (s *Service) countRecords(ctx context.Context, q *Queue) (int64, error) {
	n, err := s.work(q).CountFrom(ctx, recordSubject(q))
	if err != nil {
		return 0, fmt.Errorf("queue: count records: %w", s.engineErr(err))
	}
	return n, nil
}
