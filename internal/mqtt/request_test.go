package mqtt

import (
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/require"
)

// TestParseRequest is the parser's fixture table: the request target as it
// arrives (escaped path and raw query) against the parsed request or the
// exact error text, which is the 400 body.
func TestParseRequest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		target string
		want   publishRequest
		err    error  // sentinel the error wraps
		text   string // the error text (the 400 body)
	}{
		{
			name: "defaults", target: "/topics/home",
			want: publishRequest{topic: "home", qos: 1},
		},
		{
			name: "seed example 1", target: "/topics/home?qos=1&client_id=curl-x&retained=false",
			want: publishRequest{topic: "home", qos: 1, clientID: "curl-x"},
		},
		{
			name: "seed example 2", target: "/topics/home?qos=1&client_id=curl-x&retained=true&username=sample-user",
			want: publishRequest{topic: "home", qos: 1, retain: true, clientID: "curl-x", username: "sample-user"},
		},
		{
			name: "encoded slashes", target: "/topics/home%2Fkitchen%2Flight?qos=0",
			want: publishRequest{topic: "home/kitchen/light"},
		},
		{
			name: "raw slashes", target: "/topics/home/kitchen/",
			want: publishRequest{topic: "home/kitchen/", qos: 1},
		},
		{
			name: "unicode topic", target: "/topics/%E5%AE%B6/%E7%81%AF?qos=2",
			want: publishRequest{topic: "家/灯", qos: 2},
		},
		{
			name: "names any case", target: "/topics/t?QoS=0&Retained=TRUE&CLIENT_ID=c&UserName=u&responsetopic=r&CONTENTTYPE=x",
			want: publishRequest{
				topic: "t", retain: true, clientID: "c", username: "u",
				props: packets.Properties{ResponseTopic: "r", ContentType: "x"},
			},
		},
		{
			name: "every property", target: "/topics/t?ResponseTopic=sample%2Fresponse%2Ftopic&CorrelationData=SN0001" +
				"&ContentType=application%2Fjson&PayloadFormatIndicator=1&MessageExpiryInterval=3600" +
				"&UserProp.2.Key=b&UserProp.2.Value=2&UserProp.10.Key=c&UserProp.10.Value=&UserProp.1.Value=1+x&UserProp.1.Key=a",
			want: publishRequest{topic: "t", qos: 1, props: packets.Properties{
				ResponseTopic: "sample/response/topic", CorrelationData: []byte("SN0001"),
				ContentType: "application/json", PayloadFormat: 1, PayloadFormatFlag: true,
				MessageExpiryInterval: 3600,
				User:                  []packets.UserProperty{{Key: "a", Val: "1 x"}, {Key: "b", Val: "2"}, {Key: "c", Val: ""}},
			}},
		},
		{
			name: "format 0", target: "/topics/t?PayloadFormatIndicator=0",
			want: publishRequest{topic: "t", qos: 1, props: packets.Properties{PayloadFormatFlag: true}},
		},
		{
			name: "user key without value", target: "/topics/t?userprop.1.key=k",
			want: publishRequest{topic: "t", qos: 1, props: packets.Properties{User: []packets.UserProperty{{Key: "k"}}}},
		},
		{
			name: "unknown and empty params ignored", target: "/topics/t?&foo=bar&&_=1",
			want: publishRequest{topic: "t", qos: 1},
		},
		{
			name: "empty client_id is the default", target: "/topics/t?client_id=",
			want: publishRequest{topic: "t", qos: 1},
		},

		{name: "wrong prefix", target: "/topic/home", err: ErrBadPath, text: "invalid path: use POST /topics/{url-encoded-topic}"},
		{name: "no topic segment", target: "/topics", err: ErrBadPath, text: "invalid path: use POST /topics/{url-encoded-topic}"},
		{name: "root", target: "/", err: ErrBadPath, text: "invalid path: use POST /topics/{url-encoded-topic}"},
		{name: "bad escape", target: "/topics/a%zz", err: ErrBadPath, text: "invalid path: use POST /topics/{url-encoded-topic}"},
		{name: "empty topic", target: "/topics/", err: ErrBadTopic, text: "invalid topic: empty"},
		{name: "plus", target: "/topics/home%2F%2B", err: ErrBadTopic, text: "invalid topic: wildcards + and # are not allowed"},
		{name: "hash", target: "/topics/home%23", err: ErrBadTopic, text: "invalid topic: wildcards + and # are not allowed"},
		{name: "not utf-8", target: "/topics/%FF%FE", err: ErrBadTopic, text: "invalid topic: not valid UTF-8"},
		{name: "nul", target: "/topics/a%00b", err: ErrBadTopic, text: "invalid topic: contains U+0000"},
		{name: "too long", target: "/topics/" + strings.Repeat("a", 65536), err: ErrBadTopic, text: "invalid topic: longer than 65535 bytes"},
		{name: "sys", target: "/topics/$SYS%2Fbroker", err: ErrBadTopic, text: "invalid topic: $SYS topics are reserved"},
		{name: "qos 3", target: "/topics/t?qos=3", err: ErrBadQoS, text: "invalid qos: must be 0, 1 or 2"},
		{name: "qos empty", target: "/topics/t?qos=", err: ErrBadQoS, text: "invalid qos: must be 0, 1 or 2"},
		{name: "qos word", target: "/topics/t?qos=one", err: ErrBadQoS, text: "invalid qos: must be 0, 1 or 2"},
		{name: "qos twice", target: "/topics/t?qos=1&QOS=1", err: ErrBadParameter, text: "invalid qos: given more than once"},
		{name: "retained yes", target: "/topics/t?retained=yes", err: ErrBadRetained, text: "invalid retained: must be true or false"},
		{name: "retained 1", target: "/topics/t?retained=1", err: ErrBadRetained, text: "invalid retained: must be true or false"},
		{name: "format 2", target: "/topics/t?PayloadFormatIndicator=2", err: ErrBadParameter, text: "invalid PayloadFormatIndicator: must be 0 or 1"},
		{name: "expiry negative", target: "/topics/t?MessageExpiryInterval=-1", err: ErrBadParameter, text: "invalid MessageExpiryInterval: must be 0 to 4294967295 seconds"},
		{name: "expiry plus sign", target: "/topics/t?MessageExpiryInterval=%2B5", err: ErrBadParameter, text: "invalid MessageExpiryInterval: must be 0 to 4294967295 seconds"},
		{name: "expiry overflow", target: "/topics/t?MessageExpiryInterval=4294967296", err: ErrBadParameter, text: "invalid MessageExpiryInterval: must be 0 to 4294967295 seconds"},
		{name: "response topic wildcard", target: "/topics/t?ResponseTopic=a%2F%23", err: ErrBadParameter, text: "invalid ResponseTopic: wildcards + and # are not allowed"},
		{name: "response topic empty", target: "/topics/t?ResponseTopic=", err: ErrBadParameter, text: "invalid ResponseTopic: empty"},
		{name: "content type not utf-8", target: "/topics/t?ContentType=%C3", err: ErrBadParameter, text: "invalid ContentType: not valid UTF-8"},
		{name: "client id nul", target: "/topics/t?client_id=a%00", err: ErrBadParameter, text: "invalid client_id: contains U+0000"},
		{name: "username not utf-8", target: "/topics/t?username=%FF", err: ErrBadParameter, text: "invalid username: not valid UTF-8"},
		{name: "user prop value without key", target: "/topics/t?UserProp.3.Value=v", err: ErrBadParameter, text: "invalid UserProp.3.Key: missing"},
		{name: "user prop N zero", target: "/topics/t?UserProp.0.Key=k", err: ErrBadParameter, text: "invalid UserProp.0.Key: N must be a positive number"},
		{name: "user prop N word", target: "/topics/t?UserProp.x.Key=k", err: ErrBadParameter, text: "invalid UserProp.x.Key: N must be a positive number"},
		{name: "user prop twice", target: "/topics/t?UserProp.1.Key=a&userprop.1.KEY=b", err: ErrBadParameter, text: "invalid UserProp.1.Key: given more than once"},
		{name: "user prop same N spelled twice", target: "/topics/t?UserProp.1.Key=a&UserProp.01.Key=b", err: ErrBadParameter, text: "invalid UserProp.01.Key: given more than once"},
		{name: "bad query escape", target: "/topics/t?qos=%zz", err: ErrBadParameter, text: "invalid qos: malformed URL escape"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path, query, _ := strings.Cut(tc.target, "?")
			got, err := parseRequest(path, query)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				require.EqualError(t, err, tc.text)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// requestSeeds are real request targets: the seed's curl examples and the
// shapes the fixture table covers.
var requestSeeds = []string{
	"/topics/home?qos=1&client_id=curl-x&retained=false",
	"/topics/home?qos=1&client_id=curl-x&retained=true&username=sample-user",
	"/topics/home?qos=1",
	"/topics/home%2Fkitchen?QoS=2&Retained=TRUE&ResponseTopic=sample%2Fresponse%2Ftopic&CorrelationData=SN0001" +
		"&ContentType=application%2Fjson&PayloadFormatIndicator=1&MessageExpiryInterval=3600" +
		"&UserProp.1.Key=sampleKey&UserProp.1.Value=sampleValue",
	"/topics/a%2F%2B?qos=3",
	"/topics/?UserProp.2.Value=x",
}

// FuzzParseRequest feeds request targets to the parser: it must never panic,
// every error must map to 400 with its text as body, and what it accepts must
// be publishable.
func FuzzParseRequest(f *testing.F) {
	for _, s := range requestSeeds {
		path, query, _ := strings.Cut(s, "?")
		f.Add(path, query)
	}
	f.Fuzz(func(t *testing.T, path, query string) {
		req, err := parseRequest(path, query)
		if err != nil {
			status, body, internal := httpStatus(err)
			require.Equal(t, 400, status)
			require.False(t, internal)
			require.Equal(t, err.Error(), body)
			return
		}
		require.Empty(t, topicProblem(req.topic))
		require.LessOrEqual(t, req.qos, byte(2))
		for _, p := range req.props.User {
			require.Nil(t, stringProblem("k", p.Key))
			require.Nil(t, stringProblem("v", p.Val))
		}
		// What the parser accepts, encoded again, parses to the same request.
		path, query = encodeRequest(req)
		again, err := parseRequest(path, query)
		require.NoError(t, err)
		require.Equal(t, req, again)
	})
}

// encodeRequest is the inverse of parseRequest.
func encodeRequest(req publishRequest) (path, query string) {
	v := url.Values{}
	v.Set("qos", strconv.Itoa(int(req.qos)))
	v.Set("retained", strconv.FormatBool(req.retain))
	if req.clientID != "" {
		v.Set("client_id", req.clientID)
	}
	if req.username != "" {
		v.Set("username", req.username)
	}
	p := req.props
	if p.ResponseTopic != "" {
		v.Set("ResponseTopic", p.ResponseTopic)
	}
	if p.CorrelationData != nil {
		v.Set("CorrelationData", string(p.CorrelationData))
	}
	if p.ContentType != "" {
		v.Set("ContentType", p.ContentType)
	}
	if p.PayloadFormatFlag {
		v.Set("PayloadFormatIndicator", strconv.Itoa(int(p.PayloadFormat)))
	}
	if p.MessageExpiryInterval != 0 {
		v.Set("MessageExpiryInterval", strconv.FormatUint(uint64(p.MessageExpiryInterval), 10))
	}
	for i, u := range p.User {
		v.Set("UserProp."+strconv.Itoa(i+1)+".Key", u.Key)
		v.Set("UserProp."+strconv.Itoa(i+1)+".Value", u.Val)
	}
	return topicsPrefix + url.PathEscape(req.topic), v.Encode()
}

func BenchmarkParseRequest(b *testing.B) {
	path, query, _ := strings.Cut(requestSeeds[3], "?")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseRequest(path, query); err != nil {
			b.Fatal(err)
		}
	}
}
