package push_test

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/push"
)

func TestForbidden(t *testing.T) {
	t.Parallel()
	forbidden := []string{
		"127.0.0.1", "127.8.9.10", "::1", "0.0.0.0", "::", "0.1.2.3",
		"10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "fc00::1", "fd12:3456::1",
		"169.254.169.254", "169.254.0.1", "fe80::1",
		"100.64.0.1", "100.127.255.255",
		"224.0.0.1", "239.255.255.250", "ff02::1", "ff05::2",
		"255.255.255.255", "240.0.0.1", "192.0.2.1", "198.51.100.7", "203.0.113.9", "198.18.0.1", "192.0.0.8",
		"2001:db8::1", "fec0::1", "100::1",
		"::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.1.2.3", "::127.0.0.1",
		"64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "2002:c0a8:101::1",
	}
	for _, s := range forbidden {
		require.True(t, push.Forbidden(netip.MustParseAddr(s)), s)
	}
	allowed := []string{
		"8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.0", "172.32.0.1", "11.0.0.1", "169.253.255.255",
		"2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
	}
	for _, s := range allowed {
		require.False(t, push.Forbidden(netip.MustParseAddr(s)), s)
	}
	require.True(t, push.Forbidden(netip.Addr{}), "the zero address")
}

func TestGuardRefusesAtDialTime(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv, _ := statusServer(t, 200, "")
	srv.Config.Handler = http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) })
	_, port, err := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	require.NoError(t, err)

	guarded, err := push.New(push.Config{}) // AllowPrivate off, the default
	require.NoError(t, err)
	t.Cleanup(guarded.CloseIdleConnections)
	for _, u := range []string{
		srv.URL,                             // literal loopback
		"http://localhost:" + port,          // a name that resolves to loopback
		"http://[::ffff:127.0.0.1]:" + port, // IPv4-mapped loopback
	} {
		o := guarded.Push(t.Context(), &push.Job{Message: fixtureMessage(), Target: push.Target{URL: u}})
		require.Equal(t, push.StatusFailed, o.Status, u)
		require.ErrorIs(t, o.Err, push.ErrForbiddenAddress, u)
		var fe *push.ForbiddenAddressError
		require.ErrorAs(t, o.Err, &fe, u)
		require.True(t, fe.Addr.Unmap().IsLoopback(), u)
	}
	require.Zero(t, hits.Load(), "nothing reached the receiver")

	open := newPusher(t, push.Config{}) // AllowPrivate on
	o := open.Push(t.Context(), &push.Job{Message: fixtureMessage(), Target: push.Target{URL: "http://localhost:" + port}})
	require.True(t, o.Delivered(), "%+v", o)
	require.Equal(t, int64(1), hits.Load())
}

func TestValidateEndpoint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw  string
		want error
	}{
		{"http://test.com/cgi", nil},
		{"https://test.com:8443/a/b?c=d#frag", nil},
		{"http://10.0.0.1", nil}, // the address is checked when pushing
		{"HTTP://Test.com", nil},
		{"http://[2606:4700::1]:80/x", nil},
		{"http://" + strings.Repeat("a", 490) + ".com", push.ErrEndpointTooLong},
		{"http://test.com/a b", push.ErrEndpointBlank},
		{"http://test.com/\ta", push.ErrEndpointBlank},
		{"http://test.com/\u3000", push.ErrEndpointBlank},
		{" http://test.com", push.ErrEndpointBlank},
		{"http://test.com/\x7f", push.ErrEndpointBlank},
		{"ftp://test.com", push.ErrEndpointScheme},
		{"test.com/cgi", push.ErrEndpointScheme},
		{"queue-name", push.ErrEndpointScheme},
		{"", push.ErrEndpointScheme},
		{"http://", push.ErrEndpointInvalid},
		{"http:///path", push.ErrEndpointInvalid},
		{"http:test.com", push.ErrEndpointInvalid},
		{"http://test.com:0/", push.ErrEndpointInvalid},
		{"http://test.com:65536/", push.ErrEndpointInvalid},
		{"http://test.com:/", push.ErrEndpointInvalid},
		{"http://test.com:port/", push.ErrEndpointInvalid},
		{"http://[::1/", push.ErrEndpointInvalid},
		{"http://te%st.com", push.ErrEndpointInvalid},
	}
	for _, tt := range tests {
		err := push.ValidateEndpoint(tt.raw)
		if tt.want == nil {
			require.NoError(t, err, tt.raw)
			continue
		}
		require.ErrorIs(t, err, tt.want, tt.raw)
	}
	require.NoError(t, push.ValidateEndpoint("http://a.com/"+strings.Repeat("x", push.MaxEndpointLen-13)))
}

func FuzzValidateEndpoint(f *testing.F) {
	for _, s := range []string{
		"http://test.com/cgi", "https://u:p@h:1/p?q#f", "http://[::1]:8080", "http://h:99999", "ftp://x",
		"http://a b", "http://%zz", "http:opaque", "//host/path", "http://\u00e9.com/\u3000",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		err := push.ValidateEndpoint(raw)
		if err != nil {
			return
		}
		require.LessOrEqual(t, len(raw), push.MaxEndpointLen)
		require.False(t, strings.ContainsAny(raw, " \t\r\n\x00"))
		// Whatever passes must be something the pusher can send to.
		req, err := http.NewRequest(http.MethodPost, raw, nil)
		require.NoError(t, err, raw)
		require.Contains(t, []string{"http", "https"}, req.URL.Scheme)
		require.NotEmpty(t, req.URL.Hostname())
	})
}
