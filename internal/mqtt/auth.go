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
}

// account is a user's password and ACL. A nil ACL allows everything.
type account struct {
	password  []byte
	publish   []string
	subscribe []string
	limited   bool // has any ACL rule
}

func newDirectory(cfg Config) *directory {
	d := &directory{users: make(map[string]*account, len(cfg.Users)), anonymous: cfg.AllowAnonymous}
	for _, u := range cfg.Users {
		a := &account{password: []byte(u.Password), limited: len(u.ACL) > 0}
		for _, r := range u.ACL {
			if r.Action == ActionPublish {
				a.publish = append(a.publish, r.Filter)
			} else {
				a.subscribe = append(a.subscribe, r.Filter)
			}
		}
		d.users[u.Username] = a
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

// mayPublish reports whether the identity may publish to the topic name.
// Identities that name no configured user (anonymous clients where allowed,
// certificates whose Common Name is not a username) may do everything.
func (d *directory) mayPublish(identity, topic string) bool {
	a := d.users[identity]
	return a == nil || !a.limited || anyCovers(a.publish, topic)
}

// maySubscribe reports whether the identity may subscribe to filter, which
// is also what the broker asks before it delivers a message on a topic.
func (d *directory) maySubscribe(identity, filter string) bool {
	a := d.users[identity]
	if a == nil || !a.limited {
		return true
	}
	if rest, ok := strings.CutPrefix(filter, "$share/"); ok {
		if _, f, ok := strings.Cut(rest, "/"); ok {
			filter = f
		}
	}
	return anyCovers(a.subscribe, filter)
}

func anyCovers(filters []string, topic string) bool {
	for _, f := range filters {
		if covers(f, topic) {
			return true
		}
	}
	return false
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
	dir *directory
}

func (h *authHook) ID() string { return "herald-auth" }

func (h *authHook) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck
}

// OnConnectAuthenticate accepts a username with its password, else a
// verified client certificate, else (if allowed) no credentials at all. A
// username without a password is refused rather than downgraded to anonymous.
func (h *authHook) OnConnectAuthenticate(cl *mochi.Client, pk packets.Packet) bool {
	cn, hasCert := certCommonName(cl.Net.Conn)
	switch {
	case pk.Connect.PasswordFlag:
		return h.dir.check(string(pk.Connect.Username), pk.Connect.Password)
	case hasCert:
		cl.Properties.Username = []byte(cn)
		return true
	case len(pk.Connect.Username) == 0:
		return h.dir.anonymous
	}
	return false
}

// OnACLCheck allows a publish (write) or a subscription and delivery.
func (h *authHook) OnACLCheck(cl *mochi.Client, topic string, write bool) bool {
	identity := string(cl.Properties.Username)
	if write {
		return h.dir.mayPublish(identity, topic)
	}
	return h.dir.maySubscribe(identity, topic)
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
