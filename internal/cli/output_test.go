package cli

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tokyo is a zone other than the machine's, so that a test shows times are
// converted rather than printed in UTC by chance.
var tokyo = time.FixedZone("JST", 9*3600)

func TestPrintTableShowsOneObjectAsKeysAndValues(t *testing.T) {
	t.Parallel()
	raw := `{"code":0,"message":"","requestId":"42","topicOwner":"1000000","msgCount":0,"protocol":"http","protocal":"http",` +
		`"endpoint":"http://example.com/x","createTime":1700000000,"lastModifyTime":1700000061,"bindingKey":[],` +
		`"filterTag":["a","b"],"filterTags":["a","b"],"subscriptionName":"s","webhookSecret":""}`
	var out bytes.Buffer
	require.NoError(t, printTable(&out, []byte(raw), tokyo))
	require.Equal(t, ""+
		"topicOwner:        1000000\n"+
		"msgCount:          0\n"+
		"protocol:          http\n"+
		"endpoint:          http://example.com/x\n"+
		"createTime:        2023-11-15T07:13:20+09:00\n"+
		"lastModifyTime:    2023-11-15T07:14:21+09:00\n"+
		"bindingKey:        -\n"+
		"filterTag:         a,b\n"+
		"subscriptionName:  s\n"+
		"webhookSecret:     -\n", out.String())
}

func TestPrintTableShowsAListAsColumns(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, raw, want string }{
		{
			"all shown",
			`{"code":0,"message":"","requestId":"1","totalCount":2,"topicList":[{"topicId":"topic-a","topicName":"orders"},{"topicId":"topic-bb","topicName":"x"}]}`,
			"TOPIC ID  TOPIC NAME\ntopic-a   orders\ntopic-bb  x\n",
		},
		{
			"a page",
			`{"totalCount":3,"queueList":[{"queueId":"queue-1","queueName":"jobs"}]}`,
			"QUEUE ID  QUEUE NAME\nqueue-1   jobs\n(1 of 3 shown: --offset and --limit page through the rest)\n",
		},
		{"empty", `{"totalCount":0,"topicList":[]}`, "(none)\n"},
		{
			"columns from every row, times formatted",
			`{"msgInfoList":[{"msgId":"1","enqueueTime":1700000000},{"msgId":"2","msgBody":"two\nlines","enqueueTime":1700000000123}]}`,
			"MSG ID  ENQUEUE TIME                   MSG BODY\n" +
				"1       2023-11-15T07:13:20+09:00      -\n" +
				"2       2023-11-15T07:13:20.123+09:00  \"two\\nlines\"\n",
		},
		{
			"other fields first",
			`{"subscriptionId":"s-1","errorList":[{"code":0,"receiptHandle":"h"}]}`,
			"subscriptionId:  s-1\n\nRECEIPT HANDLE\nh\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			require.NoError(t, printTable(&out, []byte(tc.raw), tokyo))
			require.Equal(t, tc.want, out.String())
		})
	}
}

func TestCellFormatsValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ key, raw, want string }{
		{"createTime", "0", "-"},
		{"createTime", "1700000000", "2023-11-15T07:13:20+09:00"},
		{"publishTime", "1700000000123", "2023-11-15T07:13:20.123+09:00"},
		{"msgCount", "1700000000", "1700000000"},
		{"endpoint", `""`, "-"},
		{"endpoint", "null", "-"},
		{"body", `"a\tb"`, `"a\tb"`},
		{"ok", "true", "true"},
		{"nested", `{"a": [1, 2]}`, `{"a":[1,2]}`},
		{"tags", `["x", "y"]`, "x,y"},
	} {
		require.Equal(t, tc.want, cell(tc.key, []byte(tc.raw), tokyo), "%s %s", tc.key, tc.raw)
	}
}

func TestHeader(t *testing.T) {
	t.Parallel()
	require.Equal(t, "TOPIC NAME", header("topicName"))
	require.Equal(t, "QPS", header("qps"))
}
