package mqtt

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/herald-mq/herald/internal/clock"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// wait bounds every wait in these tests; nothing sleeps.
const wait = 10 * time.Second

var (
	alice = User{Username: "alice", Password: "secret", ACL: []ACLRule{
		{Action: ActionPublish, Filter: "home/#"},
		{Action: ActionSubscribe, Filter: "home/#"},
	}}
	root = User{Username: "root", Password: "toor"} // no ACL: everything
)

// startServer starts a server on loopback ports ("-" turns one off); it stops
// when the test ends.
func startServer(t *testing.T, cfg Config, clk clock.Clock) *Server {
	t.Helper()
	cfg.Addr, cfg.HTTPAddr = testAddr(cfg.Addr), testAddr(cfg.HTTPAddr)
	if clk == nil {
		clk = clock.Real{}
	}
	s, err := New(cfg, slog.New(slog.DiscardHandler), clk)
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		require.NoError(t, s.Stop(ctx))
	})
	return s
}

// testAddr is a loopback port for "" and off for "-".
func testAddr(v string) string {
	switch v {
	case "":
		return "127.0.0.1:0"
	case "-":
		return ""
	}
	return v
}

// mqttClient is a paho MQTT v5 client and the messages it receives.
type mqttClient struct {
	*paho.Client
	msgs chan *paho.Publish
}

// connect sends CONNECT over conn. On success the client disconnects when the
// test ends.
func connect(t *testing.T, conn net.Conn, cp *paho.Connect) (*mqttClient, *paho.Connack, error) {
	t.Helper()
	msgs := make(chan *paho.Publish, 100)
	c := paho.NewClient(paho.ClientConfig{
		Conn: packets.NewThreadSafeConn(conn),
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(p paho.PublishReceived) (bool, error) {
				msgs <- p.Packet
				return true, nil
			},
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	cp.KeepAlive = 30
	cp.CleanStart = true
	ca, err := c.Connect(ctx, cp)
	if err != nil {
		return nil, ca, err
	}
	t.Cleanup(func() {
		_ = c.Disconnect(&paho.Disconnect{ReasonCode: 0})
		select {
		case <-c.Done():
		case <-time.After(wait):
			t.Error("paho client did not stop")
		}
	})
	return &mqttClient{Client: c, msgs: msgs}, ca, nil
}

// dial connects to the broker's TCP listener as username/password (none when
// username is "") and fails the test if the broker refuses.
func dial(t *testing.T, s *Server, clientID, username, password string) *mqttClient {
	t.Helper()
	conn, err := net.Dial("tcp", s.MQTTAddr())
	require.NoError(t, err)
	c, _, err := connect(t, conn, credentials(clientID, username, password))
	require.NoError(t, err)
	return c
}

func credentials(clientID, username, password string) *paho.Connect {
	cp := &paho.Connect{ClientID: clientID}
	if username != "" {
		cp.Username, cp.UsernameFlag = username, true
		cp.Password, cp.PasswordFlag = []byte(password), true
	}
	return cp
}

// subscribe subscribes c to filter at qos and fails the test if refused.
func (c *mqttClient) subscribe(t *testing.T, filter string, qos byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}})
	require.NoError(t, err)
}

// next returns the next message c receives.
func (c *mqttClient) next(t *testing.T) *paho.Publish {
	t.Helper()
	select {
	case m := <-c.msgs:
		return m
	case <-time.After(wait):
		t.Fatal("no message within", wait)
		return nil
	}
}

// post sends a gateway request and returns the status, headers and body.
func post(t *testing.T, client *http.Client, url string, body string, auth ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	if len(auth) == 2 {
		req.SetBasicAuth(auth[0], auth[1])
	}
	return do(t, client, req)
}

func do(t *testing.T, client *http.Client, req *http.Request) (int, http.Header, string) {
	t.Helper()
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(b)
}

// pki is a CA with a server certificate for 127.0.0.1 and client
// certificates, written as PEM files.
type pki struct {
	dir               string
	ca                *x509.Certificate
	caKey             *ecdsa.PrivateKey
	pool              *x509.CertPool
	caFile            string
	certFile, keyFile string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	p.caKey = newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "herald test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.caKey.PublicKey, p.caKey)
	require.NoError(t, err)
	p.ca, err = x509.ParseCertificate(der)
	require.NoError(t, err)
	p.pool = x509.NewCertPool()
	p.pool.AddCert(p.ca)
	p.caFile = p.write(t, "ca.pem", "CERTIFICATE", der)
	cert := p.issue(t, "127.0.0.1", x509.ExtKeyUsageServerAuth)
	p.certFile = p.write(t, "server.pem", "CERTIFICATE", cert.Certificate[0])
	keyDER, err := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	require.NoError(t, err)
	p.keyFile = p.write(t, "server.key", "EC PRIVATE KEY", keyDER)
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return k
}

// issue signs a certificate for cn.
func (p *pki) issue(t *testing.T, cn string, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key := newKey(t)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	if usage == x509.ExtKeyUsageServerAuth {
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func (p *pki) write(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	f := filepath.Join(p.dir, name)
	require.NoError(t, os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
	return f
}

// clientTLS trusts the CA and presents certs.
func (p *pki) clientTLS(certs ...tls.Certificate) *tls.Config {
	return &tls.Config{RootCAs: p.pool, Certificates: certs, MinVersion: tls.VersionTLS12}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
