package mnssign_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // verifying the protocol's SHA1withRSA
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/push/mnssign"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2024, 3, 7, 18, 49, 58, 0, time.UTC)

func open(t *testing.T, store mnssign.KeyStore, clk clock.Clock) *mnssign.Keyring {
	t.Helper()
	k, err := mnssign.Open(t.Context(), mnssign.Config{
		Store: store, BaseURL: "https://herald.example/", Clock: clk, Overlap: time.Hour,
	})
	require.NoError(t, err)
	return k
}

// fetch GETs path from h and returns status, content type and body.
func fetch(t *testing.T, h http.Handler, path string) (int, string, []byte) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, err := io.ReadAll(rec.Result().Body)
	require.NoError(t, err)
	return rec.Code, rec.Header().Get("Content-Type"), body
}

func certPath(k *mnssign.Key) string { return mnssign.CertPathPrefix + k.ID + ".pem" }

// verify checks sig over data with the certificate in certPEM, as a receiver does.
func verify(t *testing.T, certPEM, data, sig []byte) error {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	require.NotNil(t, block)
	cert, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	require.True(t, ok)
	require.GreaterOrEqual(t, pub.N.BitLen(), 2048)
	sum := sha1.Sum(data) //nolint:gosec // protocol-mandated
	return rsa.VerifyPKCS1v15(pub, crypto.SHA1, sum[:], sig)
}

func TestOpenSharesOneKeyAcrossProcesses(t *testing.T) {
	t.Parallel()
	store := &mnssign.MemStore{}
	clk := clock.NewFake(t0)
	var wg sync.WaitGroup
	rings := make([]*mnssign.Keyring, 3)
	for i := range rings {
		wg.Go(func() { rings[i] = open(t, store, clk) })
	}
	wg.Wait()
	id := rings[0].SigningKey().ID
	require.Len(t, id, 16)
	for _, k := range rings {
		require.Equal(t, id, k.SigningKey().ID)
	}
	key := rings[1].SigningKey()
	require.Equal(t, "https://herald.example/mns/certs/"+id+".pem", key.CertURL)

	sig, err := key.Sign([]byte("POST\n\n\n\n/notifications"))
	require.NoError(t, err)
	code, ctype, body := fetch(t, rings[2].Handler(), certPath(key))
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "application/x-pem-file", ctype)
	require.NoError(t, verify(t, body, []byte("POST\n\n\n\n/notifications"), sig))
	require.Error(t, verify(t, body, []byte("POST\n\n\n\n/other"), sig))

	_, _, cur := fetch(t, rings[0].Handler(), mnssign.CurrentCertPath)
	require.Equal(t, key.CertPEM, cur)
}

func TestRotateServesBothDuringOverlap(t *testing.T) {
	t.Parallel()
	store := &mnssign.MemStore{}
	clk := clock.NewFake(t0)
	a := open(t, store, clk)
	b := open(t, store, clk) // a second process
	old := a.SigningKey()

	clk.Advance(time.Minute)
	require.NoError(t, a.Rotate(t.Context()))
	cur := a.SigningKey()
	require.NotEqual(t, old.ID, cur.ID)
	require.Equal(t, t0.Add(time.Minute), cur.Activated)

	// b has not refreshed: it still signs with the old key, whose
	// certificate both processes serve; a request for the new certificate
	// makes b reload and serve it too.
	require.Equal(t, old.ID, b.SigningKey().ID)
	for _, k := range []*mnssign.Keyring{a, b} {
		code, _, body := fetch(t, k.Handler(), certPath(old))
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, old.CertPEM, body)
		code, _, body = fetch(t, k.Handler(), certPath(cur))
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, cur.CertPEM, body)
	}
	require.Equal(t, cur.ID, b.SigningKey().ID)

	// Unknown ids are 404, and only reload once a second.
	code, _, _ := fetch(t, b.Handler(), mnssign.CertPathPrefix+"0000000000000000.pem")
	require.Equal(t, http.StatusNotFound, code)

	// After the overlap the old certificate is gone.
	clk.Advance(time.Hour)
	code, _, _ = fetch(t, a.Handler(), certPath(old))
	require.Equal(t, http.StatusNotFound, code)
	require.Len(t, a.Keys(), 1)

	// The next rotation drops the retired key from the store.
	require.NoError(t, b.Rotate(t.Context()))
	require.NoError(t, a.Refresh(t.Context()))
	keys := a.Keys()
	require.Len(t, keys, 2)
	require.Equal(t, cur.ID, keys[1].ID)
	require.Equal(t, t0.Add(time.Minute+2*time.Hour), keys[1].Retires)
}

func TestConcurrentRotateMakesOneKey(t *testing.T) {
	t.Parallel()
	store := &mnssign.MemStore{}
	clk := clock.NewFake(t0)
	a, b := open(t, store, clk), open(t, store, clk)
	clk.Advance(25 * time.Hour)
	var wg sync.WaitGroup
	for _, k := range []*mnssign.Keyring{a, b} {
		wg.Go(func() { require.NoError(t, k.RotateIfOlder(t.Context(), 24*time.Hour)) })
	}
	wg.Wait()
	require.Equal(t, a.SigningKey().ID, b.SigningKey().ID)
	require.Len(t, a.Keys(), 2)

	// Young enough: nothing happens.
	id := a.SigningKey().ID
	require.NoError(t, a.RotateIfOlder(t.Context(), 24*time.Hour))
	require.Equal(t, id, a.SigningKey().ID)
}

func TestHandlerMethods(t *testing.T) {
	t.Parallel()
	k := open(t, &mnssign.MemStore{}, clock.NewFake(t0))
	rec := httptest.NewRecorder()
	k.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, mnssign.CurrentCertPath, nil))
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	rec = httptest.NewRecorder()
	k.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodHead, certPath(k.SigningKey()), nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Empty(t, rec.Body.Bytes())
}

func TestConfigRejects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, err := mnssign.Open(ctx, mnssign.Config{Store: &mnssign.MemStore{}, BaseURL: "http://x", Bits: 1024})
	require.ErrorContains(t, err, "too small")
	_, err = mnssign.Open(ctx, mnssign.Config{Store: &mnssign.MemStore{}, BaseURL: "/relative"})
	require.ErrorContains(t, err, "BaseURL")
	_, err = mnssign.Open(ctx, mnssign.Config{BaseURL: "http://x"})
	require.ErrorContains(t, err, "Store")
}
