package queue_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/engine/enginetest"
	"github.com/herald-mq/herald/internal/queue"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func TestHandleRoundTrip(t *testing.T) {
	t.Parallel()
	for _, h := range []queue.Handle{
		{},
		{Epoch: 1, StreamSeq: 1, ConsumerSeq: 1, Delivered: 1, NextVisibleMs: 1_700_000_030_000},
		{Epoch: 1<<64 - 1, StreamSeq: 1<<64 - 1, ConsumerSeq: 1<<64 - 1, Delivered: 1<<64 - 1, NextVisibleMs: 1<<64 - 1},
	} {
		s := queue.EncodeHandle(testKey, h)
		require.Regexp(t, `^[A-Za-z0-9_-]{1,256}$`, s)
		got, err := queue.DecodeHandle(testKey, s)
		require.NoError(t, err)
		require.Equal(t, h, got)
	}
}

func TestHandleRejects(t *testing.T) {
	t.Parallel()
	good := queue.EncodeHandle(testKey, queue.Handle{Epoch: 2, StreamSeq: 7, ConsumerSeq: 9, Delivered: 3, NextVisibleMs: 1_700_000_030_000})
	flip := func(i int) string {
		b := []byte(good)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	for name, s := range map[string]string{
		"empty":        "",
		"not base64":   "abc$def",
		"padded":       good + "=",
		"truncated":    good[:len(good)-2],
		"extended":     good + "AA",
		"first byte":   flip(0),
		"middle byte":  flip(len(good) / 2),
		"last byte":    flip(len(good) - 1),
		"other key":    queue.EncodeHandle([]byte("another key"), queue.Handle{StreamSeq: 7}),
		"too long":     string(make([]byte, 300)),
		"short valid":  "AAAA",
		"all dashes":   "----------------------------------",
		"numeric seq":  "12345",
		"cmq-style":    "283676862063874048",
		"unicode":      "ä" + good,
		"whitespace":   " " + good,
		"percent-enc":  "%41" + good,
		"newline":      good + "\n",
		"null byte":    good + "\x00",
		"64 zero byte": string(make([]byte, 64)),
	} {
		_, err := queue.DecodeHandle(testKey, s)
		require.Error(t, err, name)
	}
}

func FuzzDecodeHandle(f *testing.F) {
	f.Add(queue.EncodeHandle(testKey, queue.Handle{Epoch: 1, StreamSeq: 2, ConsumerSeq: 3, Delivered: 4, NextVisibleMs: 5}))
	f.Add("")
	f.Add("AQEBAQEB")
	f.Add("____________________________________")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := queue.DecodeHandle(testKey, s)
		if err != nil {
			return
		}
		// Anything accepted was sealed with the key and encodes back the same.
		require.Equal(t, s, queue.EncodeHandle(testKey, h))
	})
}

func BenchmarkEncodeHandle(b *testing.B) {
	h := queue.Handle{Epoch: 1, StreamSeq: 123456789, ConsumerSeq: 123456789, Delivered: 1, NextVisibleMs: 1_700_000_030_000}
	b.ReportAllocs()
	for b.Loop() {
		queue.EncodeHandle(testKey, h)
	}
}

func BenchmarkDecodeHandle(b *testing.B) {
	s := queue.EncodeHandle(testKey, queue.Handle{Epoch: 1, StreamSeq: 123456789, ConsumerSeq: 123456789, Delivered: 1, NextVisibleMs: 1_700_000_030_000})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := queue.DecodeHandle(testKey, s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendReceiveDelete is one 16-message send, receive and delete.
func BenchmarkSendReceiveDelete(b *testing.B) {
	ctx := context.Background()
	s := newService(b, enginetest.New(b))
	newQueue(b, s, queue.Queue{Name: "bench"})
	batch := make([][]byte, queue.MaxBatch)
	for i := range batch {
		batch[i] = []byte("message body " + strconv.Itoa(i))
	}
	handles := make([]string, 0, queue.MaxBatch)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Send(ctx, app, "bench", batch, 0); err != nil {
			b.Fatal(err)
		}
		msgs, err := s.Receive(ctx, app, "bench", queue.MaxBatch, 0)
		if err != nil {
			b.Fatal(err)
		}
		handles = handles[:0]
		for _, m := range msgs {
			handles = append(handles, m.Handle)
		}
		if _, err := s.Delete(ctx, app, "bench", handles); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*queue.MaxBatch)/b.Elapsed().Seconds(), "msgs/s")
}
