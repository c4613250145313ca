package mqtt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
)

const (
	reasonBadCredentials = 0x86
	reasonNotAuthorized  = 0x87
)

func TestMQTTAuthentication(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		anonymous bool
		connect   *paho.Connect
		reason    byte // 0 = accepted
	}{
		{"user and password", false, credentials("c", "alice", "secret"), 0},
		{"anonymous refused by default", false, credentials("c", "", ""), reasonBadCredentials},
		{"wrong password", false, credentials("c", "alice", "nope"), reasonBadCredentials},
		{"unknown user", false, credentials("c", "mallory", "secret"), reasonBadCredentials},
		{"username without password", false, &paho.Connect{ClientID: "c", Username: "alice", UsernameFlag: true}, reasonBadCredentials},
		{"anonymous when allowed", true, credentials("c", "", ""), 0},
		{"wrong password even when anonymous is allowed", true, credentials("c", "alice", "nope"), reasonBadCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, Config{Users: []User{alice}, AllowAnonymous: tc.anonymous, HTTPAddr: "-"}, nil)
			conn, err := net.Dial("tcp", s.MQTTAddr())
			require.NoError(t, err)
			_, ca, err := connect(t, conn, tc.connect)
			if tc.reason == 0 {
				require.NoError(t, err)
				require.NotNil(t, ca.Properties.MaximumPacketSize)
				require.Equal(t, uint32(1<<20), *ca.Properties.MaximumPacketSize)
				return
			}
			require.Error(t, err)
			require.NotNil(t, ca)
			require.Equal(t, tc.reason, ca.ReasonCode)
		})
	}
}

func TestMQTTACL(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{Users: []User{alice, root}}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	a := dial(t, s, "alice-1", "alice", "secret")

	// Subscribe: each filter must lie within an ACL filter.
	suback, err := a.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
		{Topic: "home/#", QoS: 1},
		{Topic: "home/+/temp", QoS: 1},
		{Topic: "#", QoS: 1},
		{Topic: "office/#", QoS: 1},
		{Topic: "$share/g/home/kitchen", QoS: 1},
	}})
	require.EqualError(t, err, "at least one requested subscription failed")
	require.Equal(t, []byte{1, 1, reasonNotAuthorized, reasonNotAuthorized, 1}, suback.Reasons)

	// Publish: allowed inside home/#, refused with PUBACK 0x87 outside.
	r := dial(t, s, "root-1", "root", "toor")
	r.subscribe(t, "#", 1)
	_, err = a.Publish(ctx, &paho.Publish{Topic: "office/printer", QoS: 1, Payload: []byte("no")})
	require.ErrorContains(t, err, "not authorized")
	_, err = a.Publish(ctx, &paho.Publish{Topic: "home/door", QoS: 1, Payload: []byte("yes")})
	require.NoError(t, err)
	m := r.next(t)
	require.Equal(t, "home/door", m.Topic) // the refused publish never arrived before it
	require.Equal(t, "yes", string(m.Payload))

	// Gateway publishes reach alice only inside her subscribe ACL, and a
	// user without ACL gets everything.
	for _, topic := range []string{"office/x", "home/x"} {
		status, _, body := post(t, nil, gatewayURL(s, "http", topic, ""), topic, "root", "toor")
		require.Equal(t, http.StatusOK, status, body)
		require.Equal(t, topic, r.next(t).Topic)
	}
	require.Equal(t, "home/door", a.next(t).Topic) // her own publish
	require.Equal(t, "home/x", a.next(t).Topic)
}

func TestTLSListenerAndClientCertificates(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	other := newPKI(t) // a CA the server does not trust
	cfg := Config{
		Users:    []User{alice},
		TLSAddr:  "127.0.0.1:0",
		TLSCert:  p.certFile,
		TLSKey:   p.keyFile,
		ClientCA: p.caFile,
	}
	s := startServer(t, cfg, nil)
	dialTLS := func(tc *tls.Config) (net.Conn, error) {
		return tls.Dial("tcp", s.TLSAddr(), tc)
	}

	// A password over TLS, no certificate.
	conn, err := dialTLS(p.clientTLS())
	require.NoError(t, err)
	sub, _, err := connect(t, conn, credentials("tls-sub", "alice", "secret"))
	require.NoError(t, err)
	sub.subscribe(t, "home/#", 1)

	// A client certificate instead of a password; its CN "alice" takes
	// alice's ACL.
	conn, err = dialTLS(p.clientTLS(p.issue(t, "alice", x509.ExtKeyUsageClientAuth)))
	require.NoError(t, err)
	dev, _, err := connect(t, conn, &paho.Connect{ClientID: "dev"})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, err = dev.Publish(ctx, &paho.Publish{Topic: "home/cert", QoS: 1, Payload: []byte("by certificate")})
	require.NoError(t, err)
	_, err = dev.Publish(ctx, &paho.Publish{Topic: "office/cert", QoS: 1})
	require.ErrorContains(t, err, "not authorized")
	require.Equal(t, "by certificate", string(sub.next(t).Payload))

	// No certificate and no password: refused like on plain TCP.
	conn, err = dialTLS(p.clientTLS())
	require.NoError(t, err)
	_, ca, err := connect(t, conn, &paho.Connect{ClientID: "nobody"})
	require.Error(t, err)
	require.Equal(t, byte(reasonBadCredentials), ca.ReasonCode)

	// A certificate from another CA fails the handshake.
	conn, err = dialTLS(p.clientTLS(other.issue(t, "alice", x509.ExtKeyUsageClientAuth)))
	if err == nil {
		_, _, err = connect(t, conn, &paho.Connect{ClientID: "forged"})
	}
	require.Error(t, err)
}

func TestHTTPSGatewayClientCertificate(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	other := newPKI(t)
	s, origins := startWithOrigins(t, Config{
		Users:    []User{alice},
		TLSCert:  p.certFile,
		TLSKey:   p.keyFile,
		ClientCA: p.caFile,
		HTTPTLS:  true,
	})
	sub := dial(t, s, "sub", "alice", "secret")
	sub.subscribe(t, "home/#", 1)
	client := func(tc *tls.Config) *http.Client {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
		t.Cleanup(c.CloseIdleConnections)
		return c
	}
	device := client(p.clientTLS(p.issue(t, "device-1", x509.ExtKeyUsageClientAuth)))

	// The certificate authenticates, and its CN is the client id even when
	// client_id says otherwise.
	status, h, body := post(t, device, gatewayURL(s, "https", "home/dev", "qos=1&client_id=ignored"), "from device")
	require.Equal(t, http.StatusOK, status, body)
	require.Regexp(t, messageID, h.Get("X-Message-Id"))
	require.Equal(t, "device-1", nextOrigin(t, origins))
	require.Equal(t, "from device", string(sub.next(t).Payload))

	// Basic over HTTPS without a certificate.
	plain := client(p.clientTLS())
	status, _, body = post(t, plain, gatewayURL(s, "https", "home/pw", "client_id=curl-x"), "pw", "alice", "secret")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "curl-x", nextOrigin(t, origins))

	// Neither: 401.
	status, _, body = post(t, plain, gatewayURL(s, "https", "home/none", ""), "")
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, "authentication failed\n", body)

	// Wrong Basic credentials are refused even with a good certificate.
	status, _, _ = post(t, device, gatewayURL(s, "https", "home/dev", ""), "", "alice", "wrong")
	require.Equal(t, http.StatusUnauthorized, status)

	// A certificate from an untrusted CA fails the handshake.
	req, err := http.NewRequest(http.MethodPost, gatewayURL(s, "https", "home/x", ""), nil)
	require.NoError(t, err)
	resp, err := client(p.clientTLS(other.issue(t, "device-1", x509.ExtKeyUsageClientAuth))).Do(req)
	if err == nil {
		resp.Body.Close()
	}
	require.Error(t, err)
}

// With MaxConns 1, a second client waits for the first to leave: its
// CONNECT is answered once the first connection has closed and given its
// slot back.
func TestMaxConnsQueuesClientsUntilASlotFrees(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{Users: []User{root}, MaxConns: 1, HTTPAddr: "-"}, nil)
	first := dial(t, s, "first", "root", "toor")

	conn, err := net.Dial("tcp", s.MQTTAddr()) // in the accept queue
	require.NoError(t, err)
	second := make(chan error, 1)
	go func() {
		_, _, err := connect(t, conn, credentials("second", "root", "toor"))
		second <- err
	}()
	require.NoError(t, first.Disconnect(&paho.Disconnect{ReasonCode: 0}))
	select {
	case err := <-second:
		require.NoError(t, err, "the second client is served once the first has gone")
	case <-time.After(wait):
		t.Fatal("the second client was never served: the first connection's slot was not given back")
	}
}

// Sockets opened by the caller are served in place of the configured
// addresses (which may then be in use by anyone), and closed on Stop.
func TestGivenListenersServed(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	open := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		return ln
	}
	lns := Listeners{MQTT: open(), TLS: open(), HTTP: open()}
	cfg := Config{Users: []User{alice}, Addr: lns.MQTT.Addr().String(), TLSAddr: lns.TLS.Addr().String(),
		HTTPAddr: lns.HTTP.Addr().String(), TLSCert: p.certFile, TLSKey: p.keyFile}
	s, err := New(cfg, discard(), nil, WithListeners(lns))
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	require.Equal(t, lns.MQTT.Addr().String(), s.MQTTAddr())
	require.Equal(t, lns.TLS.Addr().String(), s.TLSAddr())
	require.Equal(t, lns.HTTP.Addr().String(), s.HTTPAddr())

	sub := dial(t, s, "sub", "alice", "secret")
	sub.subscribe(t, "home/#", 1)
	conn, err := tls.Dial("tcp", s.TLSAddr(), p.clientTLS())
	require.NoError(t, err)
	pub, _, err := connect(t, conn, credentials("pub", "alice", "secret"))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, err = pub.Publish(ctx, &paho.Publish{Topic: "home/tls", QoS: 1, Payload: []byte("over tls")})
	require.NoError(t, err)
	require.Equal(t, "over tls", string(sub.next(t).Payload))
	code, _, _ := post(t, nil, gatewayURL(s, "http", "home/http", "qos=1"), "x", "alice", "secret")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "x", string(sub.next(t).Payload))

	require.NoError(t, s.Stop(ctx))
	for _, ln := range []net.Listener{lns.MQTT, lns.TLS, lns.HTTP} {
		_, err := ln.Accept()
		require.ErrorIs(t, err, net.ErrClosed)
	}
}

// A server that fails to start closes the sockets it was given.
func TestGivenListenersClosedOnFailedStart(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(Config{Addr: ln.Addr().String(), HTTPAddr: "", AllowAnonymous: true}, discard(), nil, WithListeners(Listeners{MQTT: ln}),
		WithStore(func(context.Context, string, uint8) (jetstream.KeyValue, error) {
			cancel()
			return nil, context.Canceled
		}, nil))
	require.NoError(t, err)
	require.Error(t, s.Start(ctx))
	_, err = ln.Accept()
	require.ErrorIs(t, err, net.ErrClosed)
}
