package main

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// ledger records, with their times, what herald acknowledged (publishes,
// sends, deletes) and what the receivers and the queue consumers saw, and
// turns them into figures at the end of a part.
type ledger struct {
	subs []string         // the subscriptions every acknowledged publish must reach
	now  func() time.Time // the clock the events are stamped with

	mu        sync.Mutex
	published map[string]time.Time // topic msgId → when its publish was acknowledged
	pushes    map[pushKey][]*push  // every push a receiver got, in arrival order
	sent      map[string]time.Time // queue msgId → when its send was acknowledged
	received  map[string][]receipt // queue msgId → every receive of it
	deleted   map[string]receipt   // queue msgId → the receive whose delete was acknowledged
	deletedAt map[string]time.Time // queue msgId → when that delete was acknowledged
	crashes   []time.Time          // kill -9 instants (of herald or of a nats node)
	errs      counts               // requests that failed (not acknowledged)
}

type pushKey struct{ sub, msgID string }

// push is one HTTP push a receiver got. answered is set when the receiver
// wrote its 2xx while herald was still waiting for it.
type push struct {
	arrived, answered time.Time
}

// receipt is one receive of a queue message: when the ReceiveMessage request
// was sent, and the dequeueCount herald returned.
type receipt struct {
	requested    time.Time
	dequeueCount int64
}

// counts are the requests that got no acknowledgement, the SIGTERM stops
// that did not end with exit 0 within 10 s, and the herald starts that
// failed (and were retried).
type counts struct {
	publish, send, receive, delete, uncleanStops, failedStarts int
}

func newLedger(now func() time.Time, subs ...string) *ledger {
	return &ledger{
		subs:      subs,
		now:       now,
		published: map[string]time.Time{},
		pushes:    map[pushKey][]*push{},
		sent:      map[string]time.Time{},
		received:  map[string][]receipt{},
		deleted:   map[string]receipt{},
		deletedAt: map[string]time.Time{},
	}
}

func (l *ledger) Published(msgID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.published[msgID] = l.now()
}

// PushArrived records a push as it arrives; the receiver calls Answered on
// the result once it has answered 2xx.
func (l *ledger) PushArrived(sub, msgID string) *push {
	p := &push{arrived: l.now()}
	l.mu.Lock()
	defer l.mu.Unlock()
	k := pushKey{sub, msgID}
	l.pushes[k] = append(l.pushes[k], p)
	return p
}

func (l *ledger) Answered(p *push) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p.answered = l.now()
}

func (l *ledger) Sent(msgID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent[msgID] = l.now()
}

func (l *ledger) Received(msgID string, r receipt) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.received[msgID] = append(l.received[msgID], r)
}

// Deleted records an acknowledged DeleteMessage of the message received as r.
func (l *ledger) Deleted(msgID string, r receipt) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.deletedAt[msgID]; ok {
		return // the first acknowledged delete is the one that counts
	}
	l.deleted[msgID] = r
	l.deletedAt[msgID] = l.now()
}

// Crashed records the instant of a kill -9, once the process is gone: a
// push that arrives between the signal and the exit was in flight at it.
func (l *ledger) Crashed() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.crashes = append(l.crashes, l.now())
}

// Failed counts a request that got no acknowledgement.
func (l *ledger) Failed(f func(*counts)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f(&l.errs)
}

// Outstanding says how many acknowledged publishes some subscription has not
// yet answered 2xx, and how many acknowledged sends have not yet been
// received. Both 0 means the part has drained. (A message whose delete got
// no answer may have been deleted or not: it is not waited for.)
func (l *ledger) Outstanding() (pushes, sends int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id := range l.published {
		for _, sub := range l.subs {
			if !l.delivered(sub, id) {
				pushes++
			}
		}
	}
	for id := range l.sent {
		if len(l.received[id]) == 0 {
			sends++
		}
	}
	return pushes, sends
}

func (l *ledger) delivered(sub, msgID string) bool {
	for _, p := range l.pushes[pushKey{sub, msgID}] {
		if !p.answered.IsZero() {
			return true
		}
	}
	return false
}

// figures are the results of one part.
type figures struct {
	Published  int            // publishes acknowledged
	Lost       int            // acknowledged publishes some subscription never answered 2xx
	Duplicated int            // pushes that came after the subscription had answered 2xx to an earlier push of the message
	DupPairs   int            // (subscription, message) pairs with such a push
	DupByCrash int            // of Duplicated, those whose 2xx came within the in-flight window of a kill -9, or after it
	DupBySub   map[string]int // Duplicated by subscription
	Sent       int            // queue sends acknowledged
	SendLost   int            // acknowledged sends never received
	Deleted    int            // deletes acknowledged
	CameBack   int            // messages received again after their delete was acknowledged
	CameBackDQ int            // of CameBack, those whose dequeueCount went back (not above the deleted receive's)
	Errors     counts         // requests not acknowledged; unclean SIGTERM stops
}

// inFlightWindow is how long before a kill -9 a push answered 2xx may be
// pushed again: herald records a subscription's answer when it releases the
// message, up to 300 ms after the answer while other subscriptions' pushes
// run (delivery's LeaseAfter, 250 ms, and its LeaseAfter/5 tick), and the
// engine writes that acknowledgement to disk about 100 ms after taking it.
// The rest is slack for a loaded machine.
const inFlightWindow = 500 * time.Millisecond

// Figures computes the part's figures. A push counts as in flight at a crash
// when it arrived before the kill and was answered less than inFlight before
// it (or after it): herald may not have recorded that answer.
func (l *ledger) Figures(inFlight time.Duration) figures {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := figures{
		Published: len(l.published), Sent: len(l.sent), Deleted: len(l.deletedAt),
		DupBySub: map[string]int{}, Errors: l.errs,
	}
	for id := range l.published {
		for _, sub := range l.subs {
			if !l.delivered(sub, id) {
				f.Lost++
				break
			}
		}
	}
	for k, ps := range l.pushes {
		var first *push // the earliest push answered 2xx
		dup := false
		for _, p := range ps {
			if first == nil {
				if !p.answered.IsZero() {
					first = p
				}
				continue
			}
			if p.arrived.After(first.answered) {
				if !dup {
					f.DupPairs++
					dup = true
				}
				f.Duplicated++
				f.DupBySub[k.sub]++
				if l.inFlightAtCrash(first, inFlight) {
					f.DupByCrash++
				}
			}
		}
	}
	for id := range l.sent {
		if len(l.received[id]) == 0 {
			f.SendLost++
		}
	}
	for id, at := range l.deletedAt {
		for _, r := range l.received[id] {
			if r.requested.After(at) {
				f.CameBack++
				if r.dequeueCount <= l.deleted[id].dequeueCount {
					f.CameBackDQ++
				}
				break
			}
		}
	}
	return f
}

func (l *ledger) inFlightAtCrash(p *push, window time.Duration) bool {
	return slices.ContainsFunc(l.crashes, func(k time.Time) bool {
		return !p.arrived.After(k) && p.answered.After(k.Add(-window))
	})
}

// figure is one named count, as the report prints it and the test checks it.
type figure struct {
	Name  string
	Value int
}

// The names of the figures the campaign judges.
const (
	figPublishLost    = "publishes lost"
	figSendLost       = "sends lost"
	figCameBack       = "came back after delete"
	figDuplicated     = "duplicated"
	figDupNotInFlight = "duplicated, not in flight at a kill"
)

// List gives the figures the campaign judges, in report order.
func (f figures) List() []figure {
	return []figure{
		{figPublishLost, f.Lost},
		{figSendLost, f.SendLost},
		{figCameBack, f.CameBack},
		{figDuplicated, f.Duplicated},
		{figDupNotInFlight, f.Duplicated - f.DupByCrash},
	}
}

// String is the part's report: a line for the topic, one for the queue, one
// for the requests that were not acknowledged and one for herald's stops and
// starts.
func (f figures) String() string {
	subs := make([]string, 0, len(f.DupBySub))
	for s := range f.DupBySub {
		subs = append(subs, s)
	}
	slices.Sort(subs)
	by := ""
	for _, s := range subs {
		by += fmt.Sprintf("; %s %d", s, f.DupBySub[s])
	}
	return fmt.Sprintf(
		"  publish  acknowledged %6d  lost %d  duplicated %d (of %d message×subscription pairs; in flight at a kill %d%s)\n"+
			"  queue    acknowledged %6d  lost %d  deleted %d  came back after delete %d (dequeueCount went back %d)\n"+
			"  refused  publish %d  send %d  receive %d  delete %d  (not acknowledged: not counted above)\n"+
			"  herald   unclean SIGTERM stops %d  failed starts %d\n",
		f.Published, f.Lost, f.Duplicated, f.DupPairs, f.DupByCrash, by,
		f.Sent, f.SendLost, f.Deleted, f.CameBack, f.CameBackDQ,
		f.Errors.publish, f.Errors.send, f.Errors.receive, f.Errors.delete, f.Errors.uncleanStops, f.Errors.failedStarts)
}
