package mqtt

import (
	"strings"
	"testing"
	"unicode/utf8"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/require"
)

func TestMsgSubject(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ topic, subject string }{
		{"a", "herald.mqtt.msg.YQ"},
		{"home/kitchen", "herald.mqtt.msg.aG9tZQ.a2l0Y2hlbg"},
		{"a//b", "herald.mqtt.msg.YQ.=.Yg"},
		{"/a", "herald.mqtt.msg.=.YQ"},
		{"a/", "herald.mqtt.msg.YQ.="},
		{"$SYS/x", "herald.mqtt.msg.JFNZUw.eA"},
		{"a.b c*>", "herald.mqtt.msg.YS5iIGMqPg"},
		{strings.Repeat("x", 2000), "herald.mqtt.long." + hashToken(strings.Repeat("x", 2000))},
	} {
		require.Equal(t, tc.subject, msgSubject(tc.topic), tc.topic)
	}
}

func TestFilterSubjects(t *testing.T) {
	t.Parallel()
	long := "herald.mqtt.long.>"
	for _, tc := range []struct {
		filter   string
		subjects []string
	}{
		{"a/b", []string{"herald.mqtt.msg.YQ.Yg", long}},
		{"a/+", []string{"herald.mqtt.msg.YQ.*", long}},
		{"a/#", []string{"herald.mqtt.msg.YQ", "herald.mqtt.msg.YQ.>", long}},
		{"#", []string{"herald.mqtt.msg.>", long}},
		{"+/+/#", []string{"herald.mqtt.msg.*.*", "herald.mqtt.msg.*.*.>", long}},
	} {
		require.Equal(t, tc.subjects, filterSubjects(tc.filter), tc.filter)
	}
}

// subjectMatches is NATS's subject matching of a filter ("*" one token,
// ">" the rest).
func subjectMatches(filter, subject string) bool {
	f, s := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, tok := range f {
		if tok == ">" {
			return len(s) > i
		}
		if i >= len(s) || (tok != "*" && tok != s[i]) {
			return false
		}
	}
	return len(f) == len(s)
}

// Any topic maps to a valid subject, and a filter's subjects match the
// subject of every topic the filter matches (as mochi matches them).
func FuzzMsgSubject(f *testing.F) {
	for _, seed := range [][2]string{
		{"home/kitchen/temp", "home/+/temp"}, {"a//b", "a/#"}, {"/", "+/+"}, {"a", "a/#"},
		{"x.y/z z", "#"}, {"$SYS/a", "+/a"}, {"", "+"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, topic, filter string) {
		if !utf8.ValidString(topic) || topic == "" || strings.ContainsAny(topic, "+#\x00") {
			return
		}
		subject := msgSubject(topic)
		require.LessOrEqual(t, len(subject), maxSubject+len(msgSubjectPrefix)+100)
		for _, tok := range strings.Split(subject, ".") {
			require.NotEmpty(t, tok, subject)
			require.NotContains(t, []string{"*", ">"}, tok)
			require.False(t, strings.ContainsAny(tok, " \t\r\n"), subject)
		}
		if !mochi.IsValidFilter(filter, false) || strings.HasPrefix(filter, "$") {
			return
		}
		idx := mochi.NewTopicsIndex()
		idx.Subscribe("c", packets.Subscription{Filter: filter})
		if _, ok := idx.Subscribers(topic).Subscriptions["c"]; !ok {
			return
		}
		matched := false
		for _, s := range filterSubjects(filter) {
			matched = matched || subjectMatches(s, subject)
		}
		require.True(t, matched, "filter %q topic %q subject %q", filter, topic, subject)
	})
}

func BenchmarkMsgSubject(b *testing.B) {
	for b.Loop() {
		_ = msgSubject("devices/sensor-0042/telemetry/temperature")
	}
}
