package cmq_test

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// keyOf returns the secretId and secretKey of a CreateAccount or CreateKey
// answer.
func keyOf(t *testing.T, out map[string]any) (string, string) {
	t.Helper()
	id, _ := out["secretId"].(string)
	key, _ := out["secretKey"].(string)
	require.Regexp(t, `^AKID[A-Za-z0-9]{32}$`, id)
	require.Regexp(t, `^[A-Za-z0-9]{32}$`, key)
	return id, key
}

func fieldNames(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestAccountActions(t *testing.T) {
	t.Parallel()
	admin := newQueueAPI(t)

	out := admin.ok("CreateAccount", "name", "team-a")
	require.Equal(t, []string{"admin", "appId", "code", "message", "name", "requestId", "secretId", "secretKey"}, fieldNames(out))
	require.Equal(t, float64(testAppID+1), out["appId"], "the next APPID above the bootstrap one")
	require.Equal(t, "team-a", out["name"])
	require.Equal(t, false, out["admin"])
	aID, aKey := keyOf(t, out)

	out = admin.ok("CreateAccount", "name", "team_b", "appId", "5000")
	require.Equal(t, float64(5000), out["appId"])
	bID, _ := keyOf(t, out)

	admin.fails(4460, 10910, "CreateAccount", "name", "again", "appId", "5000")
	admin.fails(4000, 10390, "CreateAccount")
	admin.fails(4000, 10950, "CreateAccount", "name", "has space")
	admin.fails(4000, 10950, "CreateAccount", "name", strings.Repeat("x", 65))
	admin.fails(4000, 10360, "CreateAccount", "name", "c", "appId", "abc")
	admin.fails(4000, 10350, "CreateAccount", "name", "c", "appId", "0")

	list := admin.ok("ListAccounts")
	require.Equal(t, float64(3), list["totalCount"])
	require.Equal(t, []any{
		map[string]any{"appId": float64(5000), "name": "team_b", "createTime": float64(testNow)},
		map[string]any{"appId": float64(testAppID), "name": "bootstrap", "createTime": float64(testNow)},
		map[string]any{"appId": float64(testAppID + 1), "name": "team-a", "createTime": float64(testNow)},
	}, list["accountList"])

	// An admin makes keys for any account, admin keys too.
	out = admin.ok("CreateKey", "appId", "5000")
	require.Equal(t, float64(5000), out["appId"])
	b2ID, b2Key := keyOf(t, out)
	admin.fails(4440, 10900, "CreateKey", "appId", "42")
	admin.fails(4000, 10350, "CreateKey", "admin", "2")

	// ListKeys shows SecretIds, never a SecretKey.
	raw := admin.raw(http.MethodPost, "/v2/index.php", admin.signed(http.MethodPost, map[string]string{"Action": "ListKeys", "appId": "5000"}))
	require.NotContains(t, string(raw), "secretKey")
	require.NotContains(t, string(raw), b2Key)
	keys := admin.ok("ListKeys", "appId", "5000")
	require.Equal(t, float64(2), keys["totalCount"])
	require.ElementsMatch(t, []any{
		map[string]any{"appId": float64(5000), "secretId": bID, "admin": false, "createTime": float64(testNow)},
		map[string]any{"appId": float64(5000), "secretId": b2ID, "admin": false, "createTime": float64(testNow)},
	}, keys["keyList"])
	all := admin.ok("ListKeys")
	require.Equal(t, float64(4), all["totalCount"], "an admin without appId lists every account's keys")

	// A key that is not an admin key manages its own account's keys only.
	a := admin.as(aID, aKey)
	a.fails(4000, 10461, "ListAccounts")
	a.fails(4000, 10461, "CreateAccount", "name", "mine")
	a.fails(4000, 10461, "DeleteAccount", "appId", "5000")
	a.fails(4000, 10461, "CreateKey", "appId", "5000")
	a.fails(4000, 10461, "CreateKey", "admin", "1")
	a.fails(4000, 10461, "ListKeys", "appId", "5000")
	a.fails(4000, 10461, "RevokeKey", "secretId", bID)
	a.fails(4000, 10461, "RevokeKey", "secretId", testSecretID)
	aAdminID, _ := keyOf(t, admin.ok("CreateKey", "appId", strconv.Itoa(testAppID+1), "admin", "1"))
	a.fails(4000, 10461, "RevokeKey", "secretId", aAdminID)
	admin.ok("RevokeKey", "secretId", aAdminID)
	out = a.ok("CreateKey")
	require.Equal(t, float64(testAppID+1), out["appId"])
	a2ID, a2Key := keyOf(t, out)
	mine := a.ok("ListKeys")
	require.Equal(t, float64(2), mine["totalCount"], "its own account's keys, without appId")
	// Rotation: the new key revokes the old one, which is refused at once.
	a2 := admin.as(a2ID, a2Key)
	a2.ok("RevokeKey", "secretId", aID)
	a.fails(4100, 10270, "ListTopic")
	a2.ok("ListTopic")

	admin.fails(4000, 10390, "RevokeKey")
	admin.fails(4440, 10930, "RevokeKey", "secretId", aID)
	admin.fails(4440, 10930, "RevokeKey", "secretId", "AKIDnobody")
	admin.fails(4000, 10940, "RevokeKey", "secretId", testSecretID)
	admin.fails(4000, 10940, "DeleteAccount", "appId", strconv.Itoa(testAppID))

	// An account that owns a topic or a queue stays.
	a2.ok("CreateTopic", "topicName", "t")
	admin.fails(4000, 10920, "DeleteAccount", "appId", strconv.Itoa(testAppID+1))
	a2.ok("DeleteTopic", "topicName", "t")
	a2.ok("CreateQueue", "queueName", "q")
	admin.fails(4000, 10920, "DeleteAccount", "appId", strconv.Itoa(testAppID+1))
	a2.ok("DeleteQueue", "queueName", "q")
	admin.ok("DeleteAccount", "appId", strconv.Itoa(testAppID+1))
	a2.fails(4100, 10270, "ListTopic")
	admin.fails(4440, 10900, "DeleteAccount", "appId", strconv.Itoa(testAppID+1))
	admin.fails(4000, 10390, "DeleteAccount")
	require.Equal(t, float64(2), admin.ok("ListAccounts")["totalCount"])
}

// Each account sees only its own topics, subscriptions and queues: another
// account's names do not exist for it, and it may use the same names.
func TestAccountsAreIsolated(t *testing.T) {
	t.Parallel()
	admin := newQueueAPI(t)
	aID, aKey := keyOf(t, admin.ok("CreateAccount", "name", "a"))
	bID, bKey := keyOf(t, admin.ok("CreateAccount", "name", "b"))
	a, b := admin.as(aID, aKey), admin.as(bID, bKey)

	a.ok("CreateTopic", "topicName", "orders")
	a.ok("CreateQueue", "queueName", "jobs")
	a.ok("Subscribe", "topicName", "orders", "subscriptionName", "s", "protocol", "queue", "endpoint", "jobs", "notifyContentFormat", "SIMPLIFIED")
	a.ok("SendMessage", "queueName", "jobs", "msgBody", "for a")

	require.Equal(t, float64(0), b.ok("ListTopic")["totalCount"])
	require.Equal(t, float64(0), b.ok("ListQueue")["totalCount"])
	b.fails(4440, 10600, "GetTopicAttributes", "topicName", "orders")
	b.fails(4440, 10600, "SetTopicAttributes", "topicName", "orders", "maxMsgSize", "2048")
	b.fails(4440, 10600, "PublishMessage", "topicName", "orders", "msgBody", "x")
	b.fails(4440, 10600, "DeleteTopic", "topicName", "orders")
	b.fails(4440, 10600, "ListSubscriptionByTopic", "topicName", "orders")
	b.fails(4440, 10600, "Unsubscribe", "topicName", "orders", "subscriptionName", "s")
	b.fails(4440, 10100, "GetQueueAttributes", "queueName", "jobs")
	b.fails(4440, 10100, "ReceiveMessage", "queueName", "jobs", "pollingWaitSeconds", "0")
	b.fails(4440, 10100, "SendMessage", "queueName", "jobs", "msgBody", "x")
	b.fails(4440, 10100, "DeleteQueue", "queueName", "jobs")
	// b's subscription cannot push into a's queue.
	b.ok("CreateTopic", "topicName", "orders")
	b.fails(4440, 10100, "Subscribe", "topicName", "orders", "subscriptionName", "s", "protocol", "queue", "endpoint", "jobs", "notifyContentFormat", "SIMPLIFIED")
	require.Equal(t, float64(1), b.ok("ListTopic")["totalCount"])

	// a's objects are untouched.
	require.Equal(t, float64(1), a.ok("ListSubscriptionByTopic", "topicName", "orders")["totalCount"])
	got := a.ok("ReceiveMessage", "queueName", "jobs", "pollingWaitSeconds", "0")
	require.Equal(t, "for a", got["msgBody"])
}
