package mqtt

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/clock"
)

var messageID = regexp.MustCompile(`^[0-9A-F]{32}$`)

func gatewayURL(s *Server, scheme, topic, query string) string {
	u := scheme + "://" + s.HTTPAddr() + "/topics/" + url.PathEscape(topic)
	if query != "" {
		u += "?" + query
	}
	return u
}

func TestGatewayDeliversPayloadAndProperties(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{Users: []User{alice, root}}, nil)
	sub := dial(t, s, "sub", "alice", "secret")
	sub.subscribe(t, "home/#", 2)

	query := "qos=2&ResponseTopic=sample%2Fresponse%2Ftopic&CorrelationData=SN0001&ContentType=application%2Fjson" +
		"&PayloadFormatIndicator=1&MessageExpiryInterval=3600" +
		"&UserProp.10.Key=third&UserProp.10.Value=3&UserProp.2.Key=second&UserProp.2.Value=2" +
		"&UserProp.1.Key=first&UserProp.1.Value=1&UserProp.3.Key=first&UserProp.3.Value=again"
	status, h, body := post(t, nil, gatewayURL(s, "http", "home/kitchen", query), `{ "message": "Hello, world" }`, "alice", "secret")
	require.Equal(t, http.StatusOK, status)
	require.Empty(t, body)
	require.Equal(t, "0", h.Get("Content-Length"))
	require.Regexp(t, messageID, h.Get("X-Message-Id"))

	m := sub.next(t)
	require.Equal(t, "home/kitchen", m.Topic)
	require.Equal(t, `{ "message": "Hello, world" }`, string(m.Payload))
	require.Equal(t, byte(2), m.QoS)
	require.False(t, m.Retain)
	p := m.Properties
	require.Equal(t, "sample/response/topic", p.ResponseTopic)
	require.Equal(t, []byte("SN0001"), p.CorrelationData)
	require.Equal(t, "application/json", p.ContentType)
	require.NotNil(t, p.PayloadFormat)
	require.Equal(t, byte(1), *p.PayloadFormat)
	require.NotNil(t, p.MessageExpiry)
	require.InDelta(t, 3600, *p.MessageExpiry, 1) // the broker sends what is left
	require.Equal(t, paho.UserProperties{
		{Key: "first", Value: "1"}, {Key: "second", Value: "2"}, {Key: "first", Value: "again"}, {Key: "third", Value: "3"},
	}, p.User)

	// Without properties, none arrive: in particular no expiry is stamped on.
	status, _, _ = post(t, nil, gatewayURL(s, "http", "home/plain", ""), "x", "alice", "secret")
	require.Equal(t, http.StatusOK, status)
	m = sub.next(t)
	require.Equal(t, "home/plain", m.Topic)
	require.Equal(t, byte(1), m.QoS) // the default
	require.Nil(t, m.Properties.MessageExpiry)
	require.Nil(t, m.Properties.PayloadFormat)
	require.Empty(t, m.Properties.User)
	require.Empty(t, m.Properties.ContentType)
}

func TestGatewayQoS(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{Users: []User{root}}, nil)
	subs := map[byte]*mqttClient{}
	for _, q := range []byte{0, 1, 2} {
		subs[q] = dial(t, s, fmt.Sprintf("sub%d", q), "root", "toor")
		subs[q].subscribe(t, "qos/#", q)
	}
	for _, pub := range []byte{0, 1, 2} {
		status, _, body := post(t, nil, gatewayURL(s, "http", "qos/t", fmt.Sprintf("qos=%d", pub)), fmt.Sprint(pub), "root", "toor")
		require.Equal(t, http.StatusOK, status, body)
		for subQoS, c := range subs {
			m := c.next(t)
			require.Equal(t, fmt.Sprint(pub), string(m.Payload))
			require.Equal(t, min(pub, subQoS), m.QoS, "published at %d, subscribed at %d", pub, subQoS)
		}
	}
}

func TestGatewayRetained(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{Users: []User{root}}, nil)
	u := func(topic, query string) string { return gatewayURL(s, "http", topic, query) }
	for _, r := range []struct{ topic, query, body string }{
		{"r/kept", "retained=true&qos=1&ContentType=text%2Fplain&UserProp.1.Key=k&UserProp.1.Value=v", "kept"},
		{"r/not", "retained=false", "not kept"},
		{"r/cleared", "retained=true", "to be cleared"},
		{"r/cleared", "retained=true", ""}, // an empty retained message deletes it
	} {
		status, _, body := post(t, nil, u(r.topic, r.query), r.body, "root", "toor")
		require.Equal(t, http.StatusOK, status, body)
	}

	late := dial(t, s, "late", "root", "toor")
	late.subscribe(t, "r/#", 2)
	m := late.next(t)
	require.Equal(t, "r/kept", m.Topic)
	require.Equal(t, "kept", string(m.Payload))
	require.True(t, m.Retain)
	require.Equal(t, byte(1), m.QoS)
	require.Equal(t, "text/plain", m.Properties.ContentType)
	require.Equal(t, paho.UserProperties{{Key: "k", Value: "v"}}, m.Properties.User)

	// A live message is not flagged retained, and nothing else was kept.
	status, _, _ := post(t, nil, u("r/live", "retained=true"), "live", "root", "toor")
	require.Equal(t, http.StatusOK, status)
	m = late.next(t)
	require.Equal(t, "r/live", m.Topic)
	require.False(t, m.Retain)
	select {
	case extra := <-late.msgs:
		t.Fatalf("unexpected message on %s", extra.Topic)
	default:
	}
}

// TestGatewayStatus drives every status the gateway answers with, over a
// real connection, and checks the exact body and headers.
func TestGatewayStatus(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{Users: []User{alice, root}}, nil)
	base := "http://" + s.HTTPAddr()
	basic := func(u, p string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p)) }
	for _, tc := range []struct {
		name   string
		method string
		target string
		auth   string
		body   string
		status int
		text   string
	}{
		{"ok", "POST", "/topics/home?qos=1&retained=false", basic("alice", "secret"), "{}", 200, ""},
		{"ok for a user without acl", "POST", "/topics/anything", basic("root", "toor"), "", 200, ""},
		{"bad path", "POST", "/publish/home", basic("alice", "secret"), "", 400, "invalid path: use POST /topics/{url-encoded-topic}"},
		{"empty topic", "POST", "/topics/", basic("alice", "secret"), "", 400, "invalid topic: empty"},
		{"wildcard topic", "POST", "/topics/home%2F%23", basic("alice", "secret"), "", 400, "invalid topic: wildcards + and # are not allowed"},
		{"invalid utf-8 topic", "POST", "/topics/home%FF", basic("alice", "secret"), "", 400, "invalid topic: not valid UTF-8"},
		{"too long topic", "POST", "/topics/home" + strings.Repeat("x", 65535), basic("alice", "secret"), "", 400, "invalid topic: longer than 65535 bytes"},
		{"bad qos", "POST", "/topics/home?qos=3", basic("alice", "secret"), "", 400, "invalid qos: must be 0, 1 or 2"},
		{"bad retained", "POST", "/topics/home?retained=maybe", basic("alice", "secret"), "", 400, "invalid retained: must be true or false"},
		{"bad property", "POST", "/topics/home?MessageExpiryInterval=soon", basic("alice", "secret"), "", 400, "invalid MessageExpiryInterval: must be 0 to 4294967295 seconds"},
		{"payload not utf-8", "POST", "/topics/home?PayloadFormatIndicator=1", basic("alice", "secret"), "\xff", 400, "invalid payload: not UTF-8 but PayloadFormatIndicator is 1"},
		{"payload too large", "POST", "/topics/home", basic("alice", "secret"), strings.Repeat("x", 1<<20+1), 400, "invalid payload: larger than 1048576 bytes"},
		{"no credentials", "POST", "/topics/home", "", "", 401, "authentication failed"},
		{"wrong password", "POST", "/topics/home", basic("alice", "wrong"), "", 401, "authentication failed"},
		{"unknown user", "POST", "/topics/home", basic("mallory", "secret"), "", 401, "authentication failed"},
		{"not basic", "POST", "/topics/home", "Bearer abc", "", 401, "authentication failed"},
		{"acl deny", "POST", "/topics/office/printer", basic("alice", "secret"), "", 401, "not authorized to publish to this topic"},
		{"acl deny: home/# does not match homes", "POST", "/topics/homes", basic("alice", "secret"), "", 401, "not authorized to publish to this topic"},
		{"username param does not switch identity", "POST", "/topics/office?username=root", basic("alice", "secret"), "", 401, "not authorized to publish to this topic"},
		{"get", "GET", "/topics/home", basic("alice", "secret"), "", 405, "method not allowed: use POST"},
		{"put", "PUT", "/topics/home", basic("alice", "secret"), "", 405, "method not allowed: use POST"},
		{"get without credentials", "GET", "/", "", "", 405, "method not allowed: use POST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(tc.method, base+tc.target, strings.NewReader(tc.body))
			require.NoError(t, err)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			status, h, body := do(t, nil, req)
			require.Equal(t, tc.status, status, body)
			if status == http.StatusOK {
				require.Regexp(t, messageID, h.Get("X-Message-Id"))
				require.Empty(t, body)
				return
			}
			require.Equal(t, tc.text+"\n", body)
			require.Equal(t, "text/plain; charset=utf-8", h.Get("Content-Type"))
			require.Empty(t, h.Get("X-Message-Id"))
			if status == http.StatusMethodNotAllowed {
				require.Equal(t, "POST", h.Get("Allow"))
			}
		})
	}
}

func TestGatewayRateLimit(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	s := startServer(t, Config{Users: []User{alice, root}, HTTPPublishRate: 2}, clk)
	send := func(user, pass string) (int, string) {
		status, _, body := post(t, nil, gatewayURL(s, "http", "home", "qos=0"), "", user, pass)
		return status, body
	}
	for range 2 {
		status, body := send("alice", "secret")
		require.Equal(t, http.StatusOK, status, body)
	}
	status, body := send("alice", "secret")
	require.Equal(t, http.StatusTooManyRequests, status)
	require.Equal(t, "too many requests: publish rate exceeded\n", body)

	// Buckets are per user.
	status, _ = send("root", "toor")
	require.Equal(t, http.StatusOK, status)

	// Half a second refills one token of alice's two per second.
	clk.Advance(500 * time.Millisecond)
	status, _ = send("alice", "secret")
	require.Equal(t, http.StatusOK, status)
	status, _ = send("alice", "secret")
	require.Equal(t, http.StatusTooManyRequests, status)

	// Failed authentication does not use a user's tokens.
	clk.Advance(time.Second)
	status, _ = send("alice", "wrong")
	require.Equal(t, http.StatusUnauthorized, status)
	for range 2 {
		status, _ = send("alice", "secret")
		require.Equal(t, http.StatusOK, status)
	}
}

func TestGatewayInternalErrorWhenStopped(t *testing.T) {
	t.Parallel()
	s, err := New(Config{Users: []User{root}, Addr: "", HTTPAddr: ""}, discard(), clock.Real{})
	require.NoError(t, err)
	call := func() (int, string) {
		req, err := http.NewRequest(http.MethodPost, "/topics/t", strings.NewReader("x"))
		require.NoError(t, err)
		req.SetBasicAuth("root", "toor")
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	status, body := call()
	require.Equal(t, http.StatusInternalServerError, status)
	require.Equal(t, "internal error\n", body)

	require.NoError(t, s.Start(context.Background()))
	status, _ = call()
	require.Equal(t, http.StatusOK, status)

	require.NoError(t, s.Stop(context.Background()))
	status, body = call()
	require.Equal(t, http.StatusInternalServerError, status)
	require.Equal(t, "internal error\n", body)
}

// originHook records the client id the broker sees a publish come from.
type originHook struct {
	mochi.HookBase
	origins chan string
}

func (h *originHook) ID() string           { return "test-origin" }
func (h *originHook) Provides(b byte) bool { return b == mochi.OnPublished }
func (h *originHook) OnPublished(cl *mochi.Client, pk packets.Packet) {
	h.origins <- cl.ID + " " + pk.Origin
}

func startWithOrigins(t *testing.T, cfg Config) (*Server, chan string) {
	t.Helper()
	cfg.Addr, cfg.HTTPAddr = testAddr(cfg.Addr), testAddr(cfg.HTTPAddr)
	s, err := New(cfg, discard(), clock.Real{})
	require.NoError(t, err)
	h := &originHook{origins: make(chan string, 10)}
	require.NoError(t, s.broker.srv.AddHook(h, nil))
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, s.Stop(context.Background())) })
	return s, h.origins
}

func nextOrigin(t *testing.T, origins chan string) string {
	t.Helper()
	select {
	case o := <-origins:
		id, origin, _ := strings.Cut(o, " ")
		require.Equal(t, id, origin)
		return id
	case <-time.After(wait):
		t.Fatal("no publish within", wait)
		return ""
	}
}

func TestGatewayClientID(t *testing.T) {
	t.Parallel()
	s, origins := startWithOrigins(t, Config{Users: []User{root}})
	u := gatewayURL(s, "http", "t", "")

	status, _, _ := post(t, nil, gatewayURL(s, "http", "t", "client_id=curl-x"), "", "root", "toor")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "curl-x", nextOrigin(t, origins))

	// Without client_id: http-<connection id>, the same on a kept-alive
	// connection, another on a new one.
	one := &http.Client{Transport: &http.Transport{}}
	two := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(one.CloseIdleConnections)
	t.Cleanup(two.CloseIdleConnections)
	post(t, one, u, "", "root", "toor")
	first := nextOrigin(t, origins)
	require.Regexp(t, `^http-[0-9]+$`, first)
	post(t, one, u, "", "root", "toor")
	require.Equal(t, first, nextOrigin(t, origins))
	post(t, two, u, "", "root", "toor")
	other := nextOrigin(t, origins)
	require.Regexp(t, `^http-[0-9]+$`, other)
	require.NotEqual(t, first, other)
}

// TestGatewayHTTP10 speaks HTTP/1.0 on a raw connection, as the seed says
// the gateway must.
func TestGatewayHTTP10(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{Users: []User{root}}, nil)
	sub := dial(t, s, "sub", "root", "toor")
	sub.subscribe(t, "old/#", 1)

	conn, err := net.Dial("tcp", s.HTTPAddr())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(wait)))
	_, err = fmt.Fprintf(conn, "POST /topics/old%%2Fschool?qos=1 HTTP/1.0\r\n"+
		"Authorization: Basic %s\r\nContent-Length: 5\r\n\r\nhello",
		base64.StdEncoding.EncodeToString([]byte("root:toor")))
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "HTTP/1.0", resp.Proto)
	require.Regexp(t, messageID, resp.Header.Get("X-Message-Id"))
	require.True(t, resp.Close)

	m := sub.next(t)
	require.Equal(t, "old/school", m.Topic)
	require.Equal(t, "hello", string(m.Payload))
}

// BenchmarkGateway calls the handler directly: authentication, rate limit,
// parsing, ACL, body and the broker's routing (to no subscriber).
func BenchmarkGateway(b *testing.B) {
	s, err := New(Config{Users: []User{alice}, HTTPPublishRate: -1, HTTPAddr: ""}, discard(), nil)
	require.NoError(b, err)
	require.NoError(b, s.Start(context.Background()))
	b.Cleanup(func() { _ = s.Stop(context.Background()) })
	h := s.Handler()
	target := "/topics/home%2Fkitchen?qos=1&ContentType=application%2Fjson&UserProp.1.Key=k&UserProp.1.Value=v"
	payload := `{ "message": "Hello, world" }`
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(payload))
		req.SetBasicAuth("alice", "secret")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code, rec.Body.String())
		}
	}
}

// A body that does not arrive within HTTPReadTimeout is answered 400 and
// its connection closed, instead of holding a file descriptor for ever.
func TestGatewayClosesASlowBody(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{Users: []User{root}, HTTPReadTimeout: 200 * time.Millisecond}, nil)
	c, err := net.Dial("tcp", s.HTTPAddr())
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "POST /topics/home HTTP/1.1\r\nHost: x\r\nAuthorization: Basic cm9vdDp0b29y\r\n"+
		"Content-Length: 100000\r\n\r\nabc")
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(wait)))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "invalid payload: cannot read the body\n", string(body))
	_, err = br.ReadByte()
	require.ErrorIs(t, err, io.EOF, "the server closed the connection")
}

// The gateway holds its requests to the same ACL as MQTT clients, with %c
// standing for the request's client_id and %u for the user.
func TestGatewayACLPatterns(t *testing.T) {
	t.Parallel()
	deny := false
	dev := User{Username: "dev", Password: "pw", ACL: []ACLRule{
		{Action: ActionPublish, Filter: "devices/%c/#"},
		{Action: ActionPublish, Filter: "users/%u/#"},
		{Action: ActionPublish, Filter: "users/dev/private", Allow: &deny},
	}}
	s := startServer(t, Config{Users: []User{dev}, Addr: "-"}, nil)
	for _, tc := range []struct {
		topic, query string
		status       int
	}{
		{"devices/d1/temp", "client_id=d1", http.StatusOK},
		{"devices/d2/temp", "client_id=d1", http.StatusUnauthorized},
		{"devices/d1/temp", "", http.StatusUnauthorized}, // the default client id is http-<n>
		{"users/dev/x", "", http.StatusOK},
		{"users/dev/private", "", http.StatusUnauthorized},
		{"users/other/x", "", http.StatusUnauthorized},
	} {
		status, _, _ := post(t, nil, gatewayURL(s, "http", tc.topic, tc.query), "x", "dev", "pw")
		require.Equal(t, tc.status, status, "%s?%s", tc.topic, tc.query)
	}
}
