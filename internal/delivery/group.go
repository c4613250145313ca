package delivery

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/herald-mq/herald/internal/engine/schedule"
	"github.com/herald-mq/herald/internal/engine/workqueue"
)

// A group is the attempts one engine message gives rise to: the first
// attempt of every matching subscription for a topic message, or the one
// attempt a retry record is for. Each attempt has a ticket. The message is
// acknowledged once every ticket has ended: delivered, given up, or its
// next attempt stored as a retry record.
//
// A group whose attempts end at different times does not keep its message
// hostage for the slowest: once an attempt has ended LeaseAfter ago while
// others still run, each running attempt gets a lease, a retry record of its
// own due after AckWait and renewed while the attempt runs, and the message
// is acknowledged. A crash then repeats only the attempts that held leases,
// not those that had ended. When a leased attempt ends, its lease is deleted
// or becomes the record of its next attempt.
type group struct {
	s       *Service
	msg     *workqueue.Msg
	tickets []*ticket

	mu        sync.Mutex
	left      int           // tickets not ended
	storing   int           // tickets whose verdict is being stored
	failed    bool          // a verdict could not be stored: the message goes back
	firstDone time.Time     // when the first ticket ended
	leasing   chan struct{} // while leases are written or renewed; closed after
	released  bool          // msg acknowledged: the running tickets hold leases
}

// ticket is one attempt of a group.
type ticket struct {
	g       *group
	rec     record
	running bool   // guarded by g.mu
	lease   *lease // guarded by g.mu
}

// lease is the retry record that stands for a running attempt.
type lease struct {
	subject string
	seq     uint64
	written time.Time
}

// newGroup tracks msg's attempts, one per record; it returns nil once Stop
// has begun, and the caller hands msg back.
func (s *Service) newGroup(msg *workqueue.Msg, recs []record) *group {
	g := &group{s: s, msg: msg, left: len(recs), tickets: make([]*ticket, len(recs))}
	for i, rec := range recs {
		g.tickets[i] = &ticket{g: g, rec: rec, running: true}
	}
	s.groupsMu.Lock()
	defer s.groupsMu.Unlock()
	if s.stopping {
		return nil
	}
	s.groups[g] = struct{}{}
	return g
}

// liveGroups returns the groups whose attempts run.
func (s *Service) liveGroups() []*group {
	s.groupsMu.Lock()
	defer s.groupsMu.Unlock()
	gs := make([]*group, 0, len(s.groups))
	for g := range s.groups {
		gs = append(gs, g)
	}
	return gs
}

// forget stops tracking g, and tells Stop when the last group is gone.
func (g *group) forget() {
	g.s.groupsMu.Lock()
	defer g.s.groupsMu.Unlock()
	delete(g.s.groups, g)
	if g.s.stopping && len(g.s.groups) == 0 {
		g.s.closeDrained()
	}
}

// abandon forgets a group none of whose attempts started; the caller
// returns its message to the engine.
func (g *group) abandon() { g.forget() }

// holdsMessage reports whether g's message is still unacknowledged.
func (g *group) holdsMessage() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.released
}

// end records t's verdict: in its lease if it has one, else as a new retry
// record when there is a next attempt.
func (t *ticket) end(v verdict) {
	g := t.g
	g.mu.Lock()
	for g.leasing != nil {
		wait := g.leasing
		g.mu.Unlock()
		<-wait
		g.mu.Lock()
	}
	t.running = false
	g.storing++
	l := t.lease
	g.mu.Unlock()
	stored := true
	switch {
	case l != nil:
		// A failure leaves the lease as it was: it comes due, and the
		// attempt is made again (at least once).
		g.s.endLease(l, v)
	case v.again:
		stored = g.s.schedule(v.rec, v.at)
	}
	g.ended(stored)
}

// fail ends t without a verdict: the message goes back to the engine.
func (t *ticket) fail() {
	g := t.g
	g.mu.Lock()
	t.running = false
	g.storing++
	g.mu.Unlock()
	g.ended(false)
}

func (g *group) ended(stored bool) {
	g.mu.Lock()
	g.storing--
	g.left--
	if !stored {
		g.failed = true
	}
	if g.firstDone.IsZero() {
		g.firstDone = g.s.deps.Clock.Now()
	}
	last, released, failed := g.left == 0, g.released, g.failed
	g.mu.Unlock()
	if !last {
		return
	}
	switch {
	case released:
	case failed:
		g.s.handBack(g.msg)
	default:
		g.s.ack(g.msg)
	}
	g.forget()
}

// leaseLoop gives leases to the running attempts of groups whose other
// attempts ended LeaseAfter ago, and renews leases every AckWait/3. It looks
// every LeaseAfter/5: until a group is released, a crash pushes its message
// again to every subscription, those that had it included.
func (s *Service) leaseLoop() {
	defer s.beating.Done()
	for {
		t := s.deps.Clock.NewTimer(s.cfg.LeaseAfter / 5)
		select {
		case <-s.stop:
			t.Stop()
			return
		case <-t.C():
		}
		now := s.deps.Clock.Now()
		for _, g := range s.liveGroups() {
			g.tend(now)
		}
	}
}

// tend writes the leases g needs at now: new ones for its running attempts
// once an attempt ended LeaseAfter ago (then acknowledges its message), and
// renewals of those written AckWait/3 ago.
func (g *group) tend(now time.Time) {
	s := g.s
	g.mu.Lock()
	if g.leasing != nil || g.left == 0 {
		g.mu.Unlock()
		return
	}
	split := !g.released && !g.failed && g.storing == 0 && !g.firstDone.IsZero() && now.Sub(g.firstDone) >= s.cfg.LeaseAfter
	var todo []*ticket
	for _, t := range g.tickets {
		if t.running && (t.lease == nil && split || t.lease != nil && now.Sub(t.lease.written) >= s.cfg.AckWait/3) {
			todo = append(todo, t)
		}
	}
	if len(todo) == 0 {
		g.mu.Unlock()
		return
	}
	done := make(chan struct{})
	g.leasing = done
	leases := make([]*lease, len(todo))
	for i, t := range todo {
		leases[i] = t.lease
	}
	g.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	failed := false
	for i, t := range todo {
		var subject string
		if leases[i] != nil {
			subject = leases[i].subject
		}
		// Due when a crashed process's message would be redelivered.
		subject, seq, err := s.sched.lease(ctx, subject, now.Add(s.cfg.AckWait), t.rec)
		if err != nil {
			s.deps.Log.Warn("delivery: lease not stored", "msgId", t.rec.MsgID, "err", err)
			failed = true
			continue
		}
		leases[i] = &lease{subject: subject, seq: seq, written: now}
	}

	if split && failed {
		// A later delivery of the message takes any lease of it for a
		// release (Service.released): none stays without the release.
		for i, t := range todo {
			if t.lease == nil && leases[i] != nil {
				if err := s.sched.unlease(ctx, leases[i].seq); err != nil {
					s.deps.Log.Warn("delivery: lease of an unreleased message not deleted", "msgId", t.rec.MsgID, "err", err)
				}
				leases[i] = nil
			}
		}
	}

	g.mu.Lock()
	release := split
	for i, t := range todo {
		t.lease = leases[i]
		release = release && t.lease != nil
	}
	for _, t := range g.tickets {
		release = release && (!t.running || t.lease != nil)
	}
	if release {
		g.released = true
	}
	g.leasing = nil
	g.mu.Unlock()
	close(done)
	if release {
		s.ack(g.msg)
	}
}

// endLease turns l into v: deleted when there is no next attempt, else the
// record of the next attempt.
func (s *Service) endLease(l *lease, v verdict) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	if v.again {
		_, _, err = s.sched.lease(ctx, l.subject, v.at, v.rec)
	} else if err = s.sched.unlease(ctx, l.seq); errors.Is(err, schedule.ErrNotFound) {
		// It came due while the attempt ran: the attempt is made again.
		s.deps.Log.Debug("delivery: lease came due before its attempt ended", "subject", l.subject)
		err = nil
	}
	if err != nil {
		s.deps.Log.Warn("delivery: lease not updated, its attempt will be repeated", "subject", l.subject, "err", err)
	}
}
