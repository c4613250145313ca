package mqtt

import (
	"crypto/subtle"
	"crypto/tls"
	"net"
	"strings"
	"unicode/utf8"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// directory holds the configured users. It never changes after New, so it is
// read without locks by the broker's hook and the gateway alike.
type directory struct {
	users     map[string]*account
	anonymous bool
	// anonymousACL holds the rules for clients without credentials; nil
	// allows everything.
	anonymousACL *ruleSet
}

// account is a user's password and ACL. A nil ACL allows everything.
type account struct {
	password []byte
	acl      *ruleSet
}

func newDirectory(cfg Config) *directory {
	d := &directory{
		users:        make(map[string]*account, len(cfg.Users)),
		anonymous:    cfg.AllowAnonymous,
		anonymousACL: newRuleSet(cfg.AnonymousACL),
	}
	for _, u := range cfg.Users {
		d.users[u.Username] = &account{password: []byte(u.Password), acl: newRuleSet(u.ACL)}
	}
	return d
}

// check reports whether username and password name a configured user.
func (d *directory) check(username string, password []byte) bool {
	a, ok := d.users[username]
	if !ok {
		// Compare anyway so that unknown users take as long as wrong passwords.
		subtle.ConstantTimeCompare(password, password)
		return false
	}
	return subtle.ConstantTimeCompare(a.password, password) == 1
}

// rules returns the ACL of an identity: the empty identity is an anonymous
// client; an identity that names no configured user (a certificate whose
// Common Name is not a username) has none, so may do everything.
func (d *directory) rules(identity string) *ruleSet {
	if identity == "" {
		return d.anonymousACL
	}
	if a := d.users[identity]; a != nil {
		return a.acl
	}
	return nil
}

// mayPublish reports whether the identity, connected as clientID, may
// publish to the topic name.
func (d *directory) mayPublish(identity, clientID, topic string) bool {
	return d.rules(identity).allows(ActionPublish, identity, clientID, topic)
}

// maySubscribe reports whether the identity, connected as clientID, may
// subscribe to filter, which is also what the broker asks, with the topic
// name, before it delivers a message.
func (d *directory) maySubscribe(identity, clientID, filter string) bool {
	if rest, ok := strings.CutPrefix(filter, "$share/"); ok {
		if _, f, ok := strings.Cut(rest, "/"); ok {
			filter = f
		}
	}
	return d.rules(identity).allows(ActionSubscribe, identity, clientID, filter)
}

// ruleSet is one identity's ACL, evaluated as documented on ACLRule: a deny
// rule that covers the request refuses it, whatever else matches; otherwise
// an allow rule that covers it allows it; otherwise the request is allowed
// only if the set has no allow rule at all.
type ruleSet struct {
	rules     []rule
	allowList bool // has an allow rule, so what none covers is refused
}

type rule struct {
	action  string
	filter  string
	allow   bool
	pattern bool // filter holds %u or %c
}

// newRuleSet compiles rules; no rules is nil, which allows everything.
func newRuleSet(rules []ACLRule) *ruleSet {
	if len(rules) == 0 {
		return nil
	}
	s := &ruleSet{rules: make([]rule, 0, len(rules))}
	for _, r := range rules {
		allow := r.Allow == nil || *r.Allow
		s.allowList = s.allowList || allow
		s.rules = append(s.rules, rule{
			action:  r.Action,
			filter:  r.Filter,
			allow:   allow,
			pattern: strings.Contains(r.Filter, "%u") || strings.Contains(r.Filter, "%c"),
		})
	}
	return s
}

// allows reports whether the set allows action on topic (a topic name, or a
// filter to subscribe to) for user connected as clientID. A pattern rule
// that would need a user name or client id that is empty or holds '+', '#'
// or '/' refuses the request, as mosquitto does: substituted, such a name
// would widen the rule.
func (s *ruleSet) allows(action, user, clientID, topic string) bool {
	if s == nil {
		return true
	}
	allowed := !s.allowList
	for _, r := range s.rules {
		if r.action != action {
			continue
		}
		filter := r.filter
		if r.pattern {
			var ok bool
			if filter, ok = substitute(filter, user, clientID); !ok {
				return false
			}
		}
		if !covers(filter, topic) {
			continue
		}
		if !r.allow {
			return false
		}
		allowed = true
	}
	return allowed
}

// substitute replaces %u by user and %c by clientID in filter; it fails when
// a name it needs is empty or holds a wildcard or a level separator.
func substitute(filter, user, clientID string) (string, bool) {
	unsafe := func(name string) bool { return name == "" || strings.ContainsAny(name, "+#/") }
	if strings.Contains(filter, "%u") {
		if unsafe(user) {
			return "", false
		}
		filter = strings.ReplaceAll(filter, "%u", user)
	}
	if strings.Contains(filter, "%c") {
		if unsafe(clientID) {
			return "", false
		}
		filter = strings.ReplaceAll(filter, "%c", clientID)
	}
	return filter, true
}

// covers reports whether the ACL filter matches every topic that topic
// matches: topic is a topic name or, for subscriptions, a topic filter (so a
// rule "home/#" covers "home/+/temp" but "home/+" does not cover "home/#").
// As in MQTT matching, a leading wildcard does not reach topics beginning
// with '$'.
func covers(filter, topic string) bool {
	if topic != "" && topic[0] == '$' && filter != "" && (filter[0] == '+' || filter[0] == '#') {
		return false
	}
	for {
		f, frest, fmore := strings.Cut(filter, "/")
		t, trest, tmore := strings.Cut(topic, "/")
		switch {
		case f == "#":
			return true
		case f == "+":
			if t == "#" {
				return false
			}
		case f != t:
			return false
		}
		switch {
		case !fmore && !tmore:
			return true
		case !tmore:
			return frest == "#" // "home/#" matches "home" too
		case !fmore:
			return false
		}
		filter, topic = frest, trest
	}
}

// validFilter reports whether f is an MQTT topic filter.
func validFilter(f string) bool {
	if f == "" || len(f) > 65535 || !utf8.ValidString(f) || strings.IndexByte(f, 0) >= 0 {
		return false
	}
	for _, level := range strings.Split(f, "/") {
		if len(level) > 1 && strings.ContainsAny(level, "+#") {
			return false
		}
	}
	if i := strings.IndexByte(f, '#'); i >= 0 && i != len(f)-1 {
		return false
	}
	return true
}

// topicProblem says what is wrong with a topic name to publish to, or "".
// The rules are MQTT's, plus the broker's: $SYS topics belong to the broker.
func topicProblem(t string) string {
	switch {
	case t == "":
		return "empty"
	case len(t) > 65535:
		return "longer than 65535 bytes"
	case !utf8.ValidString(t):
		return "not valid UTF-8"
	case strings.IndexByte(t, 0) >= 0:
		return "contains U+0000"
	case strings.ContainsAny(t, "+#"):
		return "wildcards + and # are not allowed"
	case len(t) >= 4 && strings.EqualFold(t[:4], "$SYS"):
		return "$SYS topics are reserved"
	}
	return ""
}

// authHook is the broker's authentication and ACL. The identity of a
// connected client is its Username: the authenticated user, the Common Name
// of its verified client certificate, or empty for an anonymous client.
type authHook struct {
	mochi.HookBase
	dir      *directory
	refusals *refusals
}

func (h *authHook) ID() string { return "herald-auth" }

func (h *authHook) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck || b == mochi.OnPublish
}

// OnConnectAuthenticate accepts a username with its password, else a
// verified client certificate, else (if allowed) no credentials at all. A
// username without a password is refused rather than downgraded to anonymous.
// A will message the identity may not publish refuses the connection too
// (CONNACK 0x87 / 5, not authorized), as mosquitto does: the broker would
// otherwise publish it on the client's behalf.
func (h *authHook) OnConnectAuthenticate(cl *mochi.Client, pk packets.Packet) bool {
	cn, hasCert := certCommonName(cl.Net.Conn)
	var ok bool
	switch {
	case pk.Connect.PasswordFlag:
		ok = h.dir.check(string(pk.Connect.Username), pk.Connect.Password)
	case hasCert:
		cl.Properties.Username = []byte(cn)
		ok = true
	case len(pk.Connect.Username) == 0:
		ok = h.dir.anonymous
	}
	if ok && pk.Connect.WillFlag && !h.dir.mayPublish(string(cl.Properties.Username), cl.ID, pk.Connect.WillTopic) {
		h.refusals.connect(cl, packets.ErrNotAuthorized)
		return false
	}
	return ok
}

// OnACLCheck allows a subscription, and the delivery of a message on a
// topic. Publishing is checked in OnPublish, once mochi has resolved a topic
// alias: here the topic name of an aliased publish is still empty.
func (h *authHook) OnACLCheck(cl *mochi.Client, topic string, write bool) bool {
	return write || h.dir.maySubscribe(string(cl.Properties.Username), cl.ID, topic)
}

// OnPublish refuses a publish outside the client's ACL: a QoS 0 message is
// dropped; MQTT 5 QoS 1 and 2 get PUBACK or PUBREC 0x87 (not authorized);
// MQTT 3.1.1, which has no way to say no, gets its PUBACK or PUBREC and the
// message is dropped, as mosquitto does. The gateway's inline client has
// been checked by the gateway.
func (h *authHook) OnPublish(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline || h.dir.mayPublish(string(cl.Properties.Username), cl.ID, pk.TopicName) {
		return pk, nil
	}
	switch {
	case pk.FixedHeader.Qos == 0:
		return pk, packets.ErrRejectPacket
	case cl.Properties.ProtocolVersion < 5:
		return pk, packets.CodeSuccessIgnore
	case pk.FixedHeader.Qos == 2:
		// mochi answers a refused publish with a PUBACK; protocolHook turns
		// it into the PUBREC that QoS 2 needs.
		h.refusals.pubrec(cl, pk.PacketID)
	}
	return pk, packets.ErrNotAuthorized
}

// certCommonName returns the Common Name of a verified client certificate.
func certCommonName(c net.Conn) (string, bool) {
	tc, ok := c.(*tls.Conn)
	if !ok {
		return "", false
	}
	return verifiedCN(tc.ConnectionState())
}

func verifiedCN(cs tls.ConnectionState) (string, bool) {
	if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return "", false
	}
	return cs.VerifiedChains[0][0].Subject.CommonName, true
}
