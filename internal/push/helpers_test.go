package push_test

import (
	"bufio"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // verifying the protocol's SHA1withRSA
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/push"
	"github.com/herald-mq/herald/internal/push/mnssign"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// Fixture values, those of the CMQ and MNS documentation where they exist.
var (
	// pushTime is the Date of the real MNS capture (wire.md §2.8).
	pushTime    = time.Date(2023, 3, 29, 8, 41, 27, 0, time.UTC)
	publishTime = time.UnixMilli(1680079287576)
)

var quiet = slog.New(slog.DiscardHandler)

const fixedRequestID = "6423F9B7BF94313030AF5EA0"

func fixtureMessage() push.Message {
	return push.Message{
		TopicOwner:       100015036,
		TopicName:        "MyTopic",
		SubscriptionName: "mysubscription",
		ID:               "6942316962",
		Body:             []byte("test message"),
		Tags:             []string{"a", "b"},
		PublishTime:      publishTime,
	}
}

// keyringStore holds one serialized keyring for the whole test binary, so
// that tests open keyrings without generating RSA keys.
var keyringStore = sync.OnceValue(func() []byte {
	s := &mnssign.MemStore{}
	_, err := mnssign.Open(context.Background(), mnssign.Config{Store: s, BaseURL: "http://unused.invalid", Logger: quiet})
	if err != nil {
		panic(err)
	}
	raw, err := s.Load(context.Background())
	if err != nil {
		panic(err)
	}
	return raw
})

// certServer opens the shared keyring with its certificates served by a
// local HTTP server, as herald serves them.
func certServer(t testing.TB) *mnssign.Keyring {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s := &mnssign.MemStore{}
	require.NoError(t, s.Save(context.Background(), nil, keyringStore()))
	k, err := mnssign.Open(context.Background(), mnssign.Config{Store: s, BaseURL: srv.URL, Clock: clock.NewFake(pushTime), Logger: quiet})
	require.NoError(t, err)
	mux.Handle("/mns/", k.Handler())
	return k
}

// newPusher returns a Pusher allowed to reach local test receivers, with a
// fake clock at pushTime and a fixed request id.
func newPusher(t testing.TB, cfg push.Config) *push.Pusher {
	t.Helper()
	cfg.AllowPrivate = true
	if cfg.Clock == nil {
		cfg.Clock = clock.NewFake(pushTime)
	}
	if cfg.NewRequestID == nil {
		cfg.NewRequestID = func() string { return fixedRequestID }
	}
	p, err := push.New(cfg)
	require.NoError(t, err)
	t.Cleanup(p.CloseIdleConnections)
	return p
}

// rawRequest is a request as it was on the wire.
type rawRequest struct {
	Line    string      // "POST /path HTTP/1.1"
	Headers [][2]string // names as sent, in order
	Body    []byte
	Raw     string // the whole request
}

// header returns the value of the header named exactly name (case-sensitive).
func (r rawRequest) header(name string) (string, bool) {
	for _, kv := range r.Headers {
		if kv[0] == name {
			return kv[1], true
		}
	}
	return "", false
}

// rawServer is an HTTP/1.1 receiver that keeps each request's bytes as
// sent, header-name case included, which net/http would canonicalise.
type rawServer struct {
	URL    string
	reqs   chan rawRequest
	ln     net.Listener
	status int

	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func newRawServer(t testing.TB, status int) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &rawServer{URL: "http://" + ln.Addr().String(), reqs: make(chan rawRequest, 64), ln: ln, status: status, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

func (s *rawServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

func (s *rawServer) serve(c net.Conn) {
	defer s.wg.Done()
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		var raw strings.Builder
		var req rawRequest
		n := 0
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			raw.WriteString(line)
			line = strings.TrimSuffix(line, "\r\n")
			if line == "" {
				break
			}
			if req.Line == "" {
				req.Line = line
				continue
			}
			name, value, _ := strings.Cut(line, ": ")
			req.Headers = append(req.Headers, [2]string{name, value})
			if strings.EqualFold(name, "Content-Length") {
				n, _ = strconv.Atoi(value)
			}
		}
		req.Body = make([]byte, n)
		if _, err := io.ReadFull(br, req.Body); err != nil {
			return
		}
		raw.Write(req.Body)
		req.Raw = raw.String()
		s.reqs <- req
		resp := fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Length: 2\r\n\r\nok", s.status, http.StatusText(s.status))
		if s.status == http.StatusNoContent {
			resp = "HTTP/1.1 204 No Content\r\n\r\n"
		}
		if _, err := io.WriteString(c, resp); err != nil {
			return
		}
	}
}

func (s *rawServer) close() {
	_ = s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// next returns the next request the server received.
func (s *rawServer) next(t testing.TB) rawRequest {
	t.Helper()
	select {
	case r := <-s.reqs:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no request reached the receiver")
		return rawRequest{}
	}
}

// fetchCert GETs a certificate as a receiver does, without keep-alive.
func fetchCert(url string) ([]byte, error) {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-pem-file" {
		return nil, fmt.Errorf("GET %s: content type %q", url, ct)
	}
	return io.ReadAll(resp.Body)
}

// verifyMNS checks the signature of an MNS push the way the receivers in
// Alibaba's samples do (wire.md §2.7), written from the specification and
// not from the signer: Content-md5, Content-Type and Date and the x-mns-*
// names are looked up case-sensitively as the Java sample does, the
// resource is the request-line URI, and the certificate is fetched from the
// base64 URL in x-mns-signing-cert-url and checked with crypto/x509 and
// rsa.VerifyPKCS1v15 over SHA-1, as the Go sample does.
func verifyMNS(r rawRequest, getCert func(url string) ([]byte, error)) error {
	method, rest, _ := strings.Cut(r.Line, " ")
	uri, _, _ := strings.Cut(rest, " ")
	hdr := map[string]string{}
	var mns []string
	for _, kv := range r.Headers {
		hdr[kv[0]] = kv[1]
		if strings.HasPrefix(kv[0], "x-mns-") {
			mns = append(mns, kv[0]+":"+kv[1])
		}
	}
	sort.Strings(mns)
	toSign := fmt.Sprintf("%s\n%s\n%s\n%s\n%s\n%s",
		method, hdr["Content-md5"], hdr["Content-Type"], hdr["Date"], strings.Join(mns, "\n"), uri)

	certURL, err := base64.StdEncoding.DecodeString(hdr["x-mns-signing-cert-url"])
	if err != nil {
		return fmt.Errorf("cert url: %w", err)
	}
	pemBytes, err := getCert(string(certURL))
	if err != nil {
		return err
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return errors.New("no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return err
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return errors.New("not an RSA certificate")
	}
	sig, err := base64.StdEncoding.DecodeString(hdr["Authorization"])
	if err != nil {
		return fmt.Errorf("authorization: %w", err)
	}
	sum := sha1.Sum([]byte(toSign)) //nolint:gosec // protocol-mandated
	return rsa.VerifyPKCS1v15(pub, crypto.SHA1, sum[:], sig)
}

// verifyWebhook checks Standard Webhooks headers the way the specification
// describes a consumer doing it: HMAC-SHA256 with the base64 key after
// "whsec_", over id.timestamp.body, any one of the space-separated v1
// signatures matching.
func verifyWebhook(secret, id, ts string, body []byte, sigHeader string) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	_, _ = fmt.Fprintf(mac, "%s.%s.", id, ts)
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range strings.Split(sigHeader, " ") {
		version, b64, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no matching webhook signature")
}
