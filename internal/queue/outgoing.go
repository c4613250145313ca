package queue

import (
	"context"
	"strconv"
	"time"

	"github.com/herald-mq/herald/internal/engine/stream"
	"github.com/herald-mq/herald/internal/engine/workqueue"
)

// headerPriority carries an Outgoing's Priority on the stored message.
const headerPriority = "Herald-Priority"

// Outgoing is one message for SendMessages.
type Outgoing struct {
	Body []byte
	// Delay is how long the message stays invisible; negative is the
	// queue's DelaySeconds.
	Delay time.Duration
	// Priority is stored with the message and given back by Receive and
	// Peek (MNS's 1–16); 0 stores none. It does not change the order of
	// delivery.
	Priority int
}

// SendMessages is Send with a delay and a priority for each message (MNS's
// SendMessage and BatchSendMessage). It returns the msgIds once the engine
// has stored every message; a batch that meets a full queue, or holds a
// message the queue refuses, is refused whole.
func (s *Service) SendMessages(ctx context.Context, appID int64, name string, out []Outgoing) ([]string, error) {
	q, err := s.store.get(ctx, appID, name)
	if err != nil {
		return nil, err
	}
	retention := time.Duration(q.MsgRetentionSeconds) * time.Second
	for i := range out {
		if err := checkBody(q, out[i].Body); err != nil {
			return nil, err
		}
		if out[i].Delay < 0 {
			out[i].Delay = time.Duration(q.DelaySeconds) * time.Second
		}
		if out[i].Delay > retention {
			return nil, ErrDelayOutOfRange
		}
	}
	if err := s.heap.check(ctx, s, q, len(out)); err != nil {
		return nil, err
	}
	msgs := make([]stream.Msg, len(out))
	ids := make([]string, len(out))
	for i, o := range out {
		m := stream.Msg{Subject: messageSubject(q), Data: o.Body}
		if o.Priority != 0 || o.Delay > 0 {
			m.Header = stream.Header{}
		}
		if o.Priority != 0 {
			m.Header.Set(headerPriority, strconv.Itoa(o.Priority))
		}
		if o.Delay > 0 {
			ids[i] = workqueue.NewID()
			m.Subject = delaySubject(q)
			m.Header.Set(headerSchedule, "@at "+s.now().Add(o.Delay).UTC().Format(time.RFC3339Nano))
			m.Header.Set(headerScheduleTarget, messageSubject(q))
			m.Header.Set(headerMsgID, ids[i])
		}
		msgs[i] = m
	}
	seqs, err := s.publish(ctx, msgs)
	if err != nil {
		return nil, err
	}
	for i, seq := range seqs {
		if ids[i] == "" {
			ids[i] = strconv.FormatUint(seq, 10)
		}
	}
	return ids, nil
}

// priority reads headerPriority; 0 when there is none.
func priority(h stream.Header) int {
	if h == nil {
		return 0
	}
	p, err := strconv.Atoi(h.Get(headerPriority))
	if err != nil {
		return 0
	}
	return p
}
