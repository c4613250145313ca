package cmq_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/topic"
)

func TestPublishRules(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.ok("CreateTopic", "topicName", "t", "maxMsgSize", "1024")
	a.ok("CreateTopic", "topicName", "r", "filterType", "2")
	a.ok("CreateTopic", "topicName", "empty")
	a.ok("Subscribe", "topicName", "t", "subscriptionName", "s", "protocol", "http", "endpoint", "http://e.com", "filterTag.1", "a")
	a.ok("Subscribe", "topicName", "r", "subscriptionName", "s", "protocol", "http", "endpoint", "http://e.com", "bindingKey.1", "x.#")

	out := a.ok("PublishMessage", "topicName", "t", "msgBody", strings.Repeat("m", 1024), "msgTag.1", "a", "msgTag.2", "b")
	require.Regexp(t, `^[0-9A-F]{32}$`, out["msgId"])
	cases := []struct {
		name         string
		kv           []string
		code, module int
	}{
		{"no topic", []string{"topicName", "nope", "msgBody", "x"}, 4440, 10600},
		{"no subscription", []string{"topicName", "empty", "msgBody", "x"}, 6030, 10650},
		{"no match", []string{"topicName", "t", "msgBody", "x", "msgTag.1", "z"}, 6030, 10730},
		{"untagged to tag filter", []string{"topicName", "t", "msgBody", "x"}, 6030, 10730},
		{"body too big", []string{"topicName", "t", "msgBody", strings.Repeat("m", 1025), "msgTag.1", "a"}, 4400, 10230},
		{"empty body", []string{"topicName", "t", "msgBody", "", "msgTag.1", "a"}, 4000, 10120},
		{"missing body", []string{"topicName", "t", "msgTag.1", "a"}, 4000, 10390},
		{"six tags", []string{"topicName", "t", "msgBody", "x", "msgTag.1", "a", "msgTag.2", "b", "msgTag.3", "c", "msgTag.4", "d", "msgTag.5", "e", "msgTag.6", "f"}, 4000, 10720},
		{"tag too long", []string{"topicName", "t", "msgBody", "x", "msgTag.1", strings.Repeat("a", 17)}, 4000, 10350},
		{"routing topic lacks key", []string{"topicName", "r", "msgBody", "x"}, 4000, 10700},
		{"routing key with wildcard", []string{"topicName", "r", "msgBody", "x", "routingKey", "x.*"}, 4000, 10350},
		{"routing key 16 dots", []string{"topicName", "r", "msgBody", "x", "routingKey", strings.Repeat("x.", 16) + "x"}, 4000, 10691},
		{"routing key too long", []string{"topicName", "r", "msgBody", "x", "routingKey", strings.Repeat("x", 65)}, 4000, 10350},
		{"routing key matches nothing", []string{"topicName", "r", "msgBody", "x", "routingKey", "y"}, 6030, 10730},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { a.fails(tc.code, tc.module, "PublishMessage", tc.kv...) })
	}
	a.ok("PublishMessage", "topicName", "r", "msgBody", "x", "routingKey", "x.y.z")
	got := a.ok("GetTopicAttributes", "topicName", "t")
	require.Equal(t, float64(1), got["msgCount"], "only the accepted publish is stored")
}

func TestBatchPublishRules(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.ok("CreateTopic", "topicName", "t")
	a.ok("Subscribe", "topicName", "t", "subscriptionName", "s", "protocol", "http", "endpoint", "http://e.com")
	kv := []string{"topicName", "t"}
	for i := range 16 {
		kv = append(kv, fmt.Sprintf("msgBody.%d", i), fmt.Sprintf("m%d", i))
	}
	out := a.ok("BatchPublishMessage", kv...)
	list := out["msgList"].([]any)
	require.Len(t, list, 16)
	seen := map[string]bool{}
	for _, it := range list {
		id := it.(map[string]any)["msgId"].(string)
		require.Regexp(t, `^[0-9A-F]{32}$`, id)
		seen[id] = true
	}
	require.Len(t, seen, 16)
	a.fails(4000, 10370, "BatchPublishMessage", append(kv, "msgBody.16", "x")...)
	a.fails(4000, 10380, "BatchPublishMessage", "topicName", "t", "msgBody.1", "a", "msgBody.3", "b")
	a.fails(4000, 10390, "BatchPublishMessage", "topicName", "t")
	big := []string{"topicName", "t"}
	for i := 1; i <= 2; i++ {
		big = append(big, fmt.Sprintf("msgBody.%d", i), strings.Repeat("b", 32*1024+1))
	}
	a.fails(4470, 10300, "BatchPublishMessage", big...)
	require.Equal(t, float64(16), a.ok("GetTopicAttributes", "topicName", "t")["msgCount"])
}

// TestBatchPublishIndexes: msgBody.n are stored in the order of n, whatever
// their order in the form, from 0 or from 1; malformed indexes are refused.
func TestBatchPublishIndexes(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.ok("CreateTopic", "topicName", "t")
	a.ok("Subscribe", "topicName", "t", "subscriptionName", "s", "protocol", "http", "endpoint", "http://e.com")
	// The form is sorted by key: msgBody.1, msgBody.10, msgBody.11, msgBody.2, …
	kv := []string{"topicName", "t"}
	for i := 1; i <= 12; i++ {
		kv = append(kv, fmt.Sprintf("msgBody.%d", i), fmt.Sprintf("b%d", i))
	}
	out := a.ok("BatchPublishMessage", kv...)
	fromZero := a.ok("BatchPublishMessage", "topicName", "t", "msgBody.1", "z1", "msgBody.0", "z0")
	var ids []string
	for _, o := range []map[string]any{out, fromZero} {
		for _, it := range o["msgList"].([]any) {
			ids = append(ids, it.(map[string]any)["msgId"].(string))
		}
	}
	ctx := context.Background()
	s, err := a.eng.JS.Stream(ctx, topic.MessageStream)
	require.NoError(t, err)
	for i, id := range ids {
		m, err := s.GetMsg(ctx, uint64(i+1))
		require.NoError(t, err)
		want := fmt.Sprintf("b%d", i+1)
		if i >= 12 {
			want = fmt.Sprintf("z%d", i-12)
		}
		require.Equal(t, want, string(m.Data))
		require.Equal(t, id, m.Header.Get(topic.HeaderMsgID))
	}

	for _, tc := range []struct {
		name         string
		kv           []string
		code, module int
	}{
		{"leading zero", []string{"msgBody.01", "a"}, 4000, 10310},
		{"not a number", []string{"msgBody.x", "a"}, 4000, 10310},
		{"negative", []string{"msgBody.-1", "a"}, 4000, 10310},
		{"gap after zero", []string{"msgBody.0", "a", "msgBody.2", "b"}, 4000, 10380},
		{"starts at two", []string{"msgBody.2", "a", "msgBody.3", "b"}, 4000, 10380},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.fails(tc.code, tc.module, "BatchPublishMessage", append([]string{"topicName", "t"}, tc.kv...)...)
		})
	}
}
