package mqtt

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// bucketReader reads and clears the bucket beyond single keys: what the
// store loads when it starts, and the keys of a session that ends.
type bucketReader interface {
	// entries returns every key that holds a value, oldest write first.
	entries(ctx context.Context) ([]bucketEntry, error)
	// purge removes every key matching one of the patterns (keys with
	// NATS wildcards).
	purge(ctx context.Context, patterns ...string) error
}

type bucketEntry struct {
	key   string
	value []byte
	seq   uint64 // the write's stream sequence (revision)
}

// kvSubjectPrefix is the prefix of the subjects of Bucket's keys in its
// stream, bucketStream.
const (
	kvSubjectPrefix = "$KV." + Bucket + "."
	bucketStream    = "KV_" + Bucket
)

// scanBatch is how many messages one pull asks for when entries scans the
// stream.
const scanBatch = 1000

// streamBucket reads the bucket's stream directly.
//
// Listing keys through the bucket's key watches (Keys, ListKeysFiltered,
// WatchAll's end-of-initial-values marker) is not reliable: their ordered
// consumer decides that it has sent every current value by counting what
// it received against what was pending when it started, or by a pending
// count of zero, and a key rewritten during the listing can make it decide
// so before that key has come (in a few listings of 600 keys in a hundred,
// with some of them being rewritten), although the key existed all along.
// So purge removes keys server-side, without listing them, and entries
// takes the list of keys from the stream's per-subject state, which is
// exact; it uses a consumer only to fetch the values in bulk, and reads
// whatever that did not deliver one key at a time.
type streamBucket struct {
	stream jetstream.Stream
}

// purge removes the matching keys' messages from the stream. No delete
// markers are left behind, and a key written after the purge stays.
func (b *streamBucket) purge(ctx context.Context, patterns ...string) error {
	for _, p := range patterns {
		if err := b.stream.Purge(ctx, jetstream.WithPurgeSubject(kvSubjectPrefix+p)); err != nil {
			return fmt.Errorf("purge %s: %w", p, err)
		}
	}
	return nil
}

func (b *streamBucket) entries(ctx context.Context) ([]bucketEntry, error) {
	// Every key in the stream, deleted ones included. nats.go pages through
	// the server's answers (100,000 subjects each).
	info, err := b.stream.Info(ctx, jetstream.WithSubjectFilter(kvSubjectPrefix+">"))
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	missing := info.State.Subjects // those not read yet
	last := make(map[string]bucketMsg, len(missing))
	if len(missing) > 0 {
		b.scan(ctx, missing, last)
	}
	if err := b.get(ctx, missing, last); err != nil {
		return nil, err
	}
	return live(last), nil
}

type bucketMsg struct {
	seq    uint64
	header nats.Header
	data   []byte
}

// get reads the last message of each subject in missing into last, one at
// a time: what a scan left, keys removed since the listing (not found) or
// whatever it missed.
func (b *streamBucket) get(ctx context.Context, missing map[string]uint64, last map[string]bucketMsg) error {
	for subject := range missing {
		m, err := b.stream.GetLastMsgForSubject(ctx, subject)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", subject, err)
		}
		last[subject] = bucketMsg{m.Sequence, m.Header, m.Data}
	}
	return nil
}

// live returns the keys whose last message holds a value, oldest write
// first.
func live(last map[string]bucketMsg) []bucketEntry {
	out := make([]bucketEntry, 0, len(last))
	for subject, m := range last {
		if !deleted(m.header) {
			out = append(out, bucketEntry{strings.TrimPrefix(subject, kvSubjectPrefix), m.data, m.seq})
		}
	}
	slices.SortFunc(out, func(a, b bucketEntry) int { return cmp.Compare(a.seq, b.seq) })
	return out
}

// scan reads each key's last message with a consumer until it has one for
// every subject in missing, deleting them from it, and keeps the latest it
// saw per subject in last. It stops early, leaving the rest in missing,
// when the consumer has nothing more to deliver, which its pending count
// can wrongly say, or fails.
func (b *streamBucket) scan(ctx context.Context, missing map[string]uint64, last map[string]bucketMsg) {
	cons, err := b.stream.CreateConsumer(ctx, jetstream.ConsumerConfig{
		DeliverPolicy:     jetstream.DeliverLastPerSubjectPolicy,
		FilterSubject:     kvSubjectPrefix + ">",
		AckPolicy:         jetstream.AckNonePolicy,
		MemoryStorage:     true,
		InactiveThreshold: time.Minute, // if the delete below fails
	})
	if err != nil {
		return
	}
	defer func() { _ = b.stream.DeleteConsumer(ctx, cons.CachedInfo().Name) }()
	for len(missing) > 0 {
		batch, err := cons.FetchNoWait(scanBatch)
		if err != nil {
			return
		}
		n := 0
		for m := range batch.Messages() { // read to the end, which ends the fetch
			n++
			meta, err := m.Metadata()
			if err != nil {
				continue
			}
			subject := m.Subject()
			if prev, ok := last[subject]; !ok || prev.seq < meta.Sequence.Stream {
				last[subject] = bucketMsg{meta.Sequence.Stream, m.Headers(), m.Data()}
			}
			delete(missing, subject)
		}
		if n == 0 || batch.Error() != nil {
			return
		}
	}
}

// deleted reports whether a key's last message says that the key has no
// value: a KV delete or purge, or a marker the server left when it removed
// the key.
func deleted(h nats.Header) bool {
	switch h.Get("KV-Operation") {
	case "DEL", "PURGE":
		return true
	}
	return h.Get(jetstream.MarkerReasonHeader) != ""
}

// entriesFor returns the keys matching the patterns that hold a value,
// oldest write first, each read on its own (for a few keys: one session).
func (b *streamBucket) entriesFor(ctx context.Context, patterns ...string) ([]bucketEntry, error) {
	last := map[string]bucketMsg{}
	for _, p := range patterns {
		info, err := b.stream.Info(ctx, jetstream.WithSubjectFilter(kvSubjectPrefix+p))
		if err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		if err := b.get(ctx, info.State.Subjects, last); err != nil {
			return nil, err
		}
	}
	return live(last), nil
}
