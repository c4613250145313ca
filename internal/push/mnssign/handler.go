package mnssign

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// missRefreshEvery bounds how often a request for an unknown certificate
// makes the keyring reload from the store.
const missRefreshEvery = time.Second

// Handler serves the certificates of Keys() as application/x-pem-file at
// CertPathPrefix + "<key id>.pem", and the signing key's certificate at
// CurrentCertPath. Mount it at "/mns/". A request for an unknown key id
// reloads the keyring first (at most once a second), so a key that another
// process has just rotated in is served by every process.
func (k *Keyring) Handler() http.Handler {
	return http.HandlerFunc(k.serveCert)
}

func (k *Keyring) serveCert(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var pemBytes []byte
	switch {
	case r.URL.Path == CurrentCertPath:
		pemBytes = k.SigningKey().CertPEM
	case strings.HasPrefix(r.URL.Path, CertPathPrefix) && strings.HasSuffix(r.URL.Path, ".pem"):
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, CertPathPrefix), ".pem")
		pemBytes = k.certFor(id)
		if pemBytes == nil && k.mayRefresh() {
			if err := k.Refresh(r.Context()); err != nil {
				k.cfg.Logger.Warn("mns keyring refresh failed", "err", err)
			}
			pemBytes = k.certFor(id)
		}
	}
	if pemBytes == nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/x-pem-file")
	h.Set("Content-Length", strconv.Itoa(len(pemBytes)))
	h.Set("Cache-Control", "public, max-age=3600")
	if r.Method == http.MethodGet {
		_, _ = w.Write(pemBytes)
	}
}

func (k *Keyring) certFor(id string) []byte {
	for _, key := range k.Keys() {
		if key.ID == id {
			return key.CertPEM
		}
	}
	return nil
}

func (k *Keyring) mayRefresh() bool {
	k.refreshMu.Lock()
	defer k.refreshMu.Unlock()
	now := k.cfg.Clock.Now()
	if !k.lastMiss.IsZero() && now.Sub(k.lastMiss) < missRefreshEvery {
		return false
	}
	k.lastMiss = now
	return true
}
