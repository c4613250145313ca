package cmq_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/engine/enginetest"
)

func TestCreateTopicRules(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	out := a.ok("CreateTopic", "topicName", "orders")
	require.Regexp(t, `^topic-[0-9a-z]{8}$`, out["topicId"])
	cases := []struct {
		name         string
		kv           []string
		code, module int
	}{
		{"duplicate", []string{"topicName", "orders"}, 4460, 10550},
		{"missing name", nil, 4000, 10390},
		{"name starts with digit", []string{"topicName", "1orders"}, 4000, 10590},
		{"name with dot", []string{"topicName", "a.b"}, 4000, 10590},
		{"name too long", []string{"topicName", "a" + strings.Repeat("b", 64)}, 4000, 10590},
		{"maxMsgSize too small", []string{"topicName", "t2", "maxMsgSize", "1023"}, 4000, 10350},
		{"maxMsgSize too big", []string{"topicName", "t2", "maxMsgSize", "1048577"}, 4000, 10350},
		{"maxMsgSize not a number", []string{"topicName", "t2", "maxMsgSize", "lots"}, 4000, 10360},
		{"filterType 3", []string{"topicName", "t2", "filterType", "3"}, 4000, 10350},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a.fails(tc.code, tc.module, "CreateTopic", tc.kv...)
		})
	}
	// None of the failures wrote anything.
	list := a.ok("ListTopic")
	require.Equal(t, float64(1), list["totalCount"])
	// The longest legal name, with - and _.
	a.ok("CreateTopic", "topicName", "a"+strings.Repeat("-_9", 21), "maxMsgSize", "1024", "filterType", "2")
}

func TestGetTopicAttributesFields(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	id := a.ok("CreateTopic", "topicName", "orders", "maxMsgSize", "2048", "filterType", "2")["topicId"]
	a.clk.Advance(5e9)
	a.ok("SetTopicAttributes", "topicName", "orders", "maxMsgSize", "4096")
	out := a.ok("GetTopicAttributes", "topicName", "orders")
	want := map[string]any{
		"topicId": id, "topicName": "orders", "msgCount": float64(0), "maxMsgSize": float64(4096),
		"msgRetentionSeconds": float64(86400), "createTime": float64(testNow), "lastModifyTime": float64(testNow + 5),
		"filterType": float64(2), "createUin": float64(testAppID), "qps": float64(0),
	}
	for k, v := range want {
		require.Equal(t, v, out[k], k)
	}
	a.fails(4000, 10350, "SetTopicAttributes", "topicName", "orders", "maxMsgSize", "10")
	a.fails(4440, 10600, "SetTopicAttributes", "topicName", "nope", "maxMsgSize", "2048")
	a.fails(4440, 10600, "GetTopicAttributes", "topicName", "nope")
}

func TestListTopicPaging(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	for i := range 25 {
		a.ok("CreateTopic", "topicName", fmt.Sprintf("t%02d", i))
	}
	a.ok("CreateTopic", "topicName", "other")
	out := a.ok("ListTopic")
	require.Equal(t, float64(26), out["totalCount"])
	require.Len(t, out["topicList"], 20)
	first := out["topicList"].([]any)[0].(map[string]any)
	require.Equal(t, "other", first["topicName"])
	require.Regexp(t, `^topic-`, first["topicId"])

	out = a.ok("ListTopic", "searchWord", "t1", "offset", "5", "limit", "10")
	require.Equal(t, float64(10), out["totalCount"])
	names := []string{}
	for _, it := range out["topicList"].([]any) {
		names = append(names, it.(map[string]any)["topicName"].(string))
	}
	require.Equal(t, []string{"t15", "t16", "t17", "t18", "t19"}, names)
	a.fails(4000, 10390, "ListTopic", "offset", "5")
	a.fails(4000, 10350, "ListTopic", "limit", "51")
	out = a.ok("ListTopic", "offset", "100", "limit", "10")
	require.Equal(t, []any{}, out["topicList"])
}

func TestDeleteTopicRefusedWhileSubscribed(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.ok("CreateTopic", "topicName", "orders")
	a.ok("Subscribe", "topicName", "orders", "subscriptionName", "s1", "protocol", "http", "endpoint", "http://example.com/hook")
	a.fails(4000, 10540, "DeleteTopic", "topicName", "orders")
	a.ok("GetTopicAttributes", "topicName", "orders")
	a.ok("Unsubscribe", "topicName", "orders", "subscriptionName", "s1")
	a.ok("DeleteTopic", "topicName", "orders")
	a.fails(4440, 10600, "DeleteTopic", "topicName", "orders")
	a.fails(4440, 10600, "GetTopicAttributes", "topicName", "orders")
}

func TestSubscribeRules(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.ok("CreateTopic", "topicName", "tags")
	a.ok("CreateTopic", "topicName", "routes", "filterType", "2")
	base := func(name string, kv ...string) []string {
		return append([]string{"topicName", "tags", "subscriptionName", name, "protocol", "http", "endpoint", "http://example.com/x"}, kv...)
	}
	with := func(kv []string, k, v string) []string {
		out := append([]string(nil), kv...)
		for i := 0; i+1 < len(out); i += 2 {
			if out[i] == k {
				out[i+1] = v
				return out
			}
		}
		return append(out, k, v)
	}
	six := []string{}
	for i := 1; i <= 6; i++ {
		six = append(six, fmt.Sprintf("filterTag.%d", i), "t")
	}
	sixKeys := []string{"topicName", "routes", "subscriptionName", "k", "protocol", "http", "endpoint", "http://e.com"}
	for i := 1; i <= 6; i++ {
		sixKeys = append(sixKeys, fmt.Sprintf("bindingKey.%d", i), "a.b")
	}
	cases := []struct {
		name         string
		kv           []string
		code, module int
	}{
		{"no such topic", with(base("s"), "topicName", "nope"), 4440, 10600},
		{"bad subscription name", base("9s"), 4000, 10580},
		{"subscription name too long", base("s" + strings.Repeat("x", 64)), 4000, 10580},
		{"missing protocol", []string{"topicName", "tags", "subscriptionName", "s", "endpoint", "http://e.com"}, 4000, 10390},
		{"undefined protocol", with(base("s"), "protocol", "smtp"), 4000, 10510},
		{"missing endpoint", []string{"topicName", "tags", "subscriptionName", "s", "protocol", "http"}, 4000, 10390},
		{"endpoint with blank", with(base("s"), "endpoint", "http://e.com/a b"), 4510, 10570},
		{"endpoint with tab", with(base("s"), "endpoint", "http://e.com/\tb"), 4510, 10570},
		{"endpoint not http", with(base("s"), "endpoint", "ftp://e.com/"), 4000, 10500},
		{"endpoint too long", with(base("s"), "endpoint", "http://e.com/"+strings.Repeat("a", 488)), 4000, 10500},
		{"endpoint without host", with(base("s"), "endpoint", "http:///path"), 4000, 10630},
		{"endpoint bad port", with(base("s"), "endpoint", "http://e.com:99999/"), 4000, 10630},
		{"endpoint with user", with(base("s"), "endpoint", "http://u:p@e.com/"), 4000, 10630},
		{"endpoint on loopback", with(base("s"), "endpoint", "http://127.0.0.1:8080/"), 4000, 10630},
		{"endpoint on private address", with(base("s"), "endpoint", "http://10.1.2.3/"), 4000, 10630},
		{"endpoint on metadata address", with(base("s"), "endpoint", "http://169.254.169.254/latest"), 4000, 10630},
		{"endpoint on IPv6 loopback", with(base("s"), "endpoint", "http://[::1]:80/"), 4000, 10630},
		{"undefined strategy", base("s", "notifyStrategy", "SOMETIMES"), 4000, 10520},
		{"undefined format", base("s", "notifyContentFormat", "YAML"), 4000, 10530},
		{"queue needs SIMPLIFIED", with(with(base("s", "notifyContentFormat", "JSON"), "protocol", "queue"), "endpoint", "q1"), 4000, 10640},
		{"queue endpoint not a name", with(with(base("s"), "protocol", "queue"), "endpoint", "http://e.com"), 4000, 10500},
		{"six filter tags", append(base("s"), six...), 4000, 10490},
		{"tag too long", base("s", "filterTag.1", strings.Repeat("t", 17)), 4000, 10350},
		{"tags not consecutive", base("s", "filterTag.1", "a", "filterTag.3", "b"), 4000, 10380},
		{"routing topic without bindingKey", with(base("s"), "topicName", "routes"), 4000, 10710},
		{"six binding keys", sixKeys, 4000, 10680},
		{"bindingKey too long", with(base("s", "bindingKey.1", strings.Repeat("k", 65)), "topicName", "routes"), 4000, 10350},
		{"bindingKey 16 dots", with(base("s", "bindingKey.1", strings.Repeat("a.", 16)+"a"), "topicName", "routes"), 4000, 10691},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a.fails(tc.code, tc.module, "Subscribe", tc.kv...)
		})
	}
	for _, topicName := range []string{"tags", "routes"} {
		out := a.ok("ListSubscriptionByTopic", "topicName", topicName)
		require.Equal(t, float64(0), out["totalCount"], "failed Subscribe calls wrote nothing")
	}

	// What passes, with defaults filled in.
	id := a.ok("Subscribe", base("s1", "protocol", "HTTP", "filterTag.0", "a", "filterTag.1", strings.Repeat("b", 16))...)["subscriptionId"]
	require.Regexp(t, `^subscription-[0-9a-z]{8}$`, id)
	got := a.ok("GetSubscriptionAttributes", "topicName", "tags", "subscriptionName", "s1")
	want := map[string]any{
		"topicOwner": "1000000", "msgCount": float64(0), "protocol": "HTTP", "protocal": "HTTP",
		"endpoint": "http://example.com/x", "notifyStrategy": "EXPONENTIAL_DECAY_RETRY", "notifyContentFormat": "JSON",
		"createTime": float64(testNow), "lastModifyTime": float64(testNow),
		"bindingKey": []any{}, "filterTag": []any{"a", strings.Repeat("b", 16)}, "filterTags": []any{"a", strings.Repeat("b", 16)},
	}
	for k, v := range want {
		require.Equal(t, v, got[k], k)
	}
	a.fails(4490, 10470, "Subscribe", base("s1")...)
	a.ok("Subscribe", "topicName", "routes", "subscriptionName", "r1", "protocol", "http", "endpoint", "https://e.com:8443/p?q=1",
		"bindingKey.1", strings.Repeat("a.", 15)+"a", "notifyStrategy", "BACKOFF_RETRY", "notifyContentFormat", "SIMPLIFIED")
	got = a.ok("GetSubscriptionAttributes", "topicName", "routes", "subscriptionName", "r1")
	require.Equal(t, []any{strings.Repeat("a.", 15) + "a"}, got["bindingKey"])
	require.Equal(t, "BACKOFF_RETRY", got["notifyStrategy"])
	require.Equal(t, "SIMPLIFIED", got["notifyContentFormat"])
	a.ok("Subscribe", "topicName", "tags", "subscriptionName", "q1", "protocol", "queue", "endpoint", "someQueue")
	got = a.ok("GetSubscriptionAttributes", "topicName", "tags", "subscriptionName", "q1")
	require.Equal(t, "SIMPLIFIED", got["notifyContentFormat"])
}

func TestSubscriptionLimit(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.ok("CreateTopic", "topicName", "t")
	for i := range 100 {
		a.ok("Subscribe", "topicName", "t", "subscriptionName", fmt.Sprintf("s%03d", i), "protocol", "http", "endpoint", "http://e.com")
	}
	a.fails(4500, 10480, "Subscribe", "topicName", "t", "subscriptionName", "one-more", "protocol", "http", "endpoint", "http://e.com")
	out := a.ok("ListSubscriptionByTopic", "topicName", "t", "searchWord", "s09", "offset", "2", "limit", "3")
	require.Equal(t, float64(10), out["totalCount"])
	items := out["subscriptionList"].([]any)
	require.Len(t, items, 3)
	first := items[0].(map[string]any)
	require.Equal(t, "s092", first["subscriptionName"])
	require.Equal(t, "http", first["protocol"])
	require.Equal(t, "http://e.com", first["endpoint"])
	require.Regexp(t, `^subscription-`, first["subscriptionId"])
	a.fails(4000, 10350, "ListSubscriptionByTopic", "topicName", "t", "offset", "1001", "limit", "1")
	a.fails(4000, 10350, "ListSubscriptionByTopic", "topicName", "t", "limit", "101")
	a.fails(4440, 10600, "ListSubscriptionByTopic", "topicName", "nope")
}

func TestSetAndClearSubscriptionAttributes(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.ok("CreateTopic", "topicName", "t")
	a.ok("CreateTopic", "topicName", "r", "filterType", "2")
	a.ok("Subscribe", "topicName", "t", "subscriptionName", "s", "protocol", "http", "endpoint", "http://e.com", "filterTag.1", "x")
	a.ok("Subscribe", "topicName", "r", "subscriptionName", "s", "protocol", "http", "endpoint", "http://e.com", "bindingKey.1", "a.*")
	a.ok("Subscribe", "topicName", "t", "subscriptionName", "q", "protocol", "queue", "endpoint", "q1")
	a.clk.Advance(7e9)
	a.ok("SetSubscriptionAttributes", "topicName", "t", "subscriptionName", "s", "notifyStrategy", "BACKOFF_RETRY",
		"notifyContentFormat", "SIMPLIFIED", "filterTag.1", "y", "filterTag.2", "z")
	got := a.ok("GetSubscriptionAttributes", "topicName", "t", "subscriptionName", "s")
	require.Equal(t, "BACKOFF_RETRY", got["notifyStrategy"])
	require.Equal(t, "SIMPLIFIED", got["notifyContentFormat"])
	require.Equal(t, []any{"y", "z"}, got["filterTag"])
	require.Equal(t, float64(testNow+7), got["lastModifyTime"])
	require.Equal(t, float64(testNow), got["createTime"])

	six := []string{"topicName", "t", "subscriptionName", "s"}
	for i := 1; i <= 6; i++ {
		six = append(six, fmt.Sprintf("filterTag.%d", i), "t")
	}
	a.fails(4000, 10670, "SetSubscriptionAttributes", six...)
	a.fails(4000, 10520, "SetSubscriptionAttributes", "topicName", "t", "subscriptionName", "s", "notifyStrategy", "NEVER")
	a.fails(4000, 10530, "SetSubscriptionAttributes", "topicName", "t", "subscriptionName", "s", "notifyContentFormat", "CSV")
	a.fails(4000, 10640, "SetSubscriptionAttributes", "topicName", "t", "subscriptionName", "q", "notifyContentFormat", "JSON")
	a.fails(4440, 10560, "SetSubscriptionAttributes", "topicName", "t", "subscriptionName", "nope", "notifyStrategy", "BACKOFF_RETRY")
	got = a.ok("GetSubscriptionAttributes", "topicName", "t", "subscriptionName", "s")
	require.Equal(t, []any{"y", "z"}, got["filterTag"], "failed calls changed nothing")

	a.ok("SetSubscriptionAttributes", "topicName", "r", "subscriptionName", "s", "bindingKey.1", "b.#")
	got = a.ok("GetSubscriptionAttributes", "topicName", "r", "subscriptionName", "s")
	require.Equal(t, []any{"b.#"}, got["bindingKey"])

	a.ok("ClearSubscriptionFilterTags", "topicName", "t", "subscriptionName", "s")
	got = a.ok("GetSubscriptionAttributes", "topicName", "t", "subscriptionName", "s")
	require.Equal(t, []any{}, got["filterTag"])
	require.Equal(t, []any{}, got["filterTags"])
	a.fails(4440, 10560, "ClearSubscriptionFilterTags", "topicName", "t", "subscriptionName", "nope")
	a.fails(4440, 10560, "Unsubscribe", "topicName", "t", "subscriptionName", "nope")
	a.fails(4440, 10560, "GetSubscriptionAttributes", "topicName", "t", "subscriptionName", "nope")
}

func TestRestartKeepsEverything(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	func() {
		eng := enginetest.Open(t, dir)
		a := newAPIOn(t, eng)
		a.ok("CreateTopic", "topicName", "keep", "maxMsgSize", "2048", "filterType", "2")
		a.ok("Subscribe", "topicName", "keep", "subscriptionName", "s", "protocol", "http", "endpoint", "http://e.com", "bindingKey.1", "a.#")
		a.topics.Close()
		require.NoError(t, eng.Close())
	}()
	a := newAPIOn(t, enginetest.Open(t, dir))
	got := a.ok("GetTopicAttributes", "topicName", "keep")
	require.Equal(t, float64(2048), got["maxMsgSize"])
	require.Equal(t, float64(2), got["filterType"])
	sub := a.ok("GetSubscriptionAttributes", "topicName", "keep", "subscriptionName", "s")
	require.Equal(t, []any{"a.#"}, sub["bindingKey"])
	require.Equal(t, float64(1), a.ok("ListSubscriptionByTopic", "topicName", "keep")["totalCount"])
	_, err := a.topics.Topic(context.Background(), testAppID, "keep")
	require.NoError(t, err)
}
