// Package mnssign holds the RSA keys that sign MNS-style pushes (SHA1withRSA,
// wire.md §2.7) and serves their self-signed certificates to receivers.
//
// The keyring lives in the engine behind KeyStore so that every herald
// process signs with the same key. Rotation has no gap: a new key signs at
// once while the previous certificate stays served for Config.Overlap, so a
// receiver that fetched or cached either certificate keeps verifying.
package mnssign

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // MNS push signatures are SHA1withRSA by protocol.
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/herald-mq/herald/internal/clock"
)

// CertPathPrefix is the URL path under which Handler serves certificates:
// CertPathPrefix + "<key id>.pem".
const CertPathPrefix = "/mns/certs/"

// CurrentCertPath serves the certificate of the key that signs now, for
// receivers configured with one fixed URL (wire.md §2.7 suggestion).
const CurrentCertPath = "/mns/x509_public_certificate.pem"

// MinBits is the smallest RSA key this package makes.
const MinBits = 2048

// ErrConflict is what KeyStore.Save returns when the stored value is no
// longer the old value it was given.
var ErrConflict = errors.New("mnssign: keyring changed concurrently")

// KeyStore keeps the serialized keyring where every herald process sees it.
type KeyStore interface {
	// Load returns the stored keyring, or nil and no error when none is stored.
	Load(ctx context.Context) ([]byte, error)
	// Save stores next if the stored value is still prev (nil: nothing
	// stored); otherwise it returns an error wrapping ErrConflict.
	Save(ctx context.Context, prev, next []byte) error
}

// Config sets up a Keyring.
type Config struct {
	// Store keeps the keys. Required.
	Store KeyStore
	// BaseURL is where receivers reach this server, e.g.
	// "https://herald.example.com"; certificate URLs are BaseURL +
	// CertPathPrefix + "<key id>.pem". Required.
	BaseURL string
	// Bits is the RSA key size. Defaults to 2048; smaller is refused.
	Bits int
	// Overlap is how long a replaced key's certificate is still served after
	// Rotate. Defaults to 24h, the life of a topic message.
	Overlap time.Duration
	// Clock tells the time. Defaults to clock.Real.
	Clock clock.Clock
	// Logger logs key changes. Defaults to slog.Default().
	Logger *slog.Logger
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.Bits = cmp.Or(c.Bits, MinBits)
	c.Overlap = cmp.Or(c.Overlap, 24*time.Hour)
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	return c
}

func (c Config) validate() error {
	if c.Store == nil {
		return errors.New("mnssign: Store is required")
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("mnssign: BaseURL %q must be an absolute http(s) URL", c.BaseURL)
	}
	if c.Bits < MinBits {
		return fmt.Errorf("mnssign: %d-bit keys are too small (minimum %d)", c.Bits, MinBits)
	}
	if c.Overlap < 0 {
		return errors.New("mnssign: Overlap must not be negative")
	}
	return nil
}

// Key is one signing key and its certificate.
type Key struct {
	// ID names the key in its certificate URL: the first 16 hex digits of
	// the certificate's SHA-256 fingerprint.
	ID string
	// CertURL is the plain (not base64) URL at which the certificate is served.
	CertURL string
	// CertPEM is the certificate, PEM-encoded.
	CertPEM []byte
	// Activated is when the key started signing.
	Activated time.Time
	// Retires is when the certificate stops being served; zero while the key
	// signs.
	Retires time.Time

	priv *rsa.PrivateKey
}

// Sign returns the SHA1withRSA (RSASSA-PKCS1-v1_5 over SHA-1) signature of data.
func (k *Key) Sign(data []byte) ([]byte, error) {
	sum := sha1.Sum(data) //nolint:gosec // protocol-mandated
	return rsa.SignPKCS1v15(nil, k.priv, crypto.SHA1, sum[:])
}

// Keyring is the set of keys: the newest signs, older ones are served until
// they retire. It is safe for concurrent use.
type Keyring struct {
	cfg Config

	mu        sync.RWMutex
	raw       []byte // the stored bytes keys came from
	keys      []*Key // newest first
	lastMiss  time.Time
	refreshMu sync.Mutex
}

// Open loads the keyring from cfg.Store, creating and storing a first key
// when there is none.
func Open(ctx context.Context, cfg Config) (*Keyring, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	k := &Keyring{cfg: cfg}
	for {
		raw, err := cfg.Store.Load(ctx)
		if err != nil {
			return nil, fmt.Errorf("mnssign: load keyring: %w", err)
		}
		if len(raw) > 0 {
			if err := k.adopt(raw); err != nil {
				return nil, err
			}
			return k, nil
		}
		next, err := k.withNewKey(nil)
		if err != nil {
			return nil, err
		}
		err = cfg.Store.Save(ctx, nil, next)
		if errors.Is(err, ErrConflict) {
			continue // another process created it first: use theirs
		}
		if err != nil {
			return nil, fmt.Errorf("mnssign: save keyring: %w", err)
		}
		if err := k.adopt(next); err != nil {
			return nil, err
		}
		cfg.Logger.Info("mns signing key created", "key", k.SigningKey().ID)
		return k, nil
	}
}

// SigningKey returns the key that signs now.
func (k *Keyring) SigningKey() *Key {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.keys[0]
}

// Keys returns the keys whose certificates are served now, newest first.
func (k *Keyring) Keys() []*Key {
	k.mu.RLock()
	defer k.mu.RUnlock()
	now := k.cfg.Clock.Now()
	out := make([]*Key, 0, len(k.keys))
	for _, key := range k.keys {
		if key.Retires.IsZero() || key.Retires.After(now) {
			out = append(out, key)
		}
	}
	return out
}

// Rotate makes a new key the signing key; the one it replaces is served for
// Overlap more. If another process rotates at the same moment, its new key is
// adopted instead of making a second one.
func (k *Keyring) Rotate(ctx context.Context) error {
	return k.rotate(ctx, func(*Key) bool { return true })
}

// RotateIfOlder rotates when the signing key has signed for maxAge or longer.
// Any number of processes may call it periodically.
func (k *Keyring) RotateIfOlder(ctx context.Context, maxAge time.Duration) error {
	return k.rotate(ctx, func(active *Key) bool {
		return k.cfg.Clock.Now().Sub(active.Activated) >= maxAge
	})
}

func (k *Keyring) rotate(ctx context.Context, due func(active *Key) bool) error {
	k.mu.RLock()
	wantReplace := k.keys[0].ID
	k.mu.RUnlock()
	for {
		raw, err := k.cfg.Store.Load(ctx)
		if err != nil {
			return fmt.Errorf("mnssign: load keyring: %w", err)
		}
		cur, err := k.decode(raw)
		if err != nil {
			return err
		}
		if len(cur) == 0 {
			return errors.New("mnssign: keyring vanished from the store")
		}
		if cur[0].ID != wantReplace || !due(cur[0]) {
			return k.adopt(raw) // someone else rotated, or nothing to do
		}
		next, err := k.withNewKey(cur)
		if err != nil {
			return err
		}
		err = k.cfg.Store.Save(ctx, raw, next)
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return fmt.Errorf("mnssign: save keyring: %w", err)
		}
		if err := k.adopt(next); err != nil {
			return err
		}
		k.cfg.Logger.Info("mns signing key rotated", "key", k.SigningKey().ID, "replaced", wantReplace)
		return nil
	}
}

// Refresh reloads the keyring from the store, picking up another process's
// rotation.
func (k *Keyring) Refresh(ctx context.Context) error {
	raw, err := k.cfg.Store.Load(ctx)
	if err != nil {
		return fmt.Errorf("mnssign: load keyring: %w", err)
	}
	if len(raw) == 0 {
		return errors.New("mnssign: keyring vanished from the store")
	}
	return k.adopt(raw)
}

// stored is the serialized keyring.
type stored struct {
	Version int         `json:"version"`
	Keys    []storedKey `json:"keys"` // newest first
}

type storedKey struct {
	Key       []byte    `json:"key"`  // PKCS #8 DER
	Cert      []byte    `json:"cert"` // X.509 DER
	Activated time.Time `json:"activated"`
	Retires   time.Time `json:"retires,omitzero"`
}

// withNewKey returns the serialized keyring made of a fresh key followed by
// cur, whose signing key retires after Overlap and whose retired keys are
// dropped.
func (k *Keyring) withNewKey(cur []*Key) ([]byte, error) {
	now := k.cfg.Clock.Now()
	priv, err := rsa.GenerateKey(rand.Reader, k.cfg.Bits)
	if err != nil {
		return nil, fmt.Errorf("mnssign: generate key: %w", err)
	}
	certDER, err := selfSigned(priv, now)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("mnssign: marshal key: %w", err)
	}
	s := stored{Version: 1, Keys: []storedKey{{Key: keyDER, Cert: certDER, Activated: now}}}
	for i, old := range cur {
		retires := old.Retires
		if i == 0 {
			retires = now.Add(k.cfg.Overlap)
		}
		if !retires.After(now) {
			continue
		}
		der, err := x509.MarshalPKCS8PrivateKey(old.priv)
		if err != nil {
			return nil, fmt.Errorf("mnssign: marshal key: %w", err)
		}
		block, _ := pem.Decode(old.CertPEM)
		s.Keys = append(s.Keys, storedKey{Key: der, Cert: block.Bytes, Activated: old.Activated, Retires: retires})
	}
	return json.Marshal(s)
}

func selfSigned(priv *rsa.PrivateKey, now time.Time) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("mnssign: serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "herald notification signing", Organization: []string{"herald"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, fmt.Errorf("mnssign: create certificate: %w", err)
	}
	return der, nil
}

func (k *Keyring) decode(raw []byte) ([]*Key, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var s stored
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("mnssign: decode keyring: %w", err)
	}
	keys := make([]*Key, 0, len(s.Keys))
	for _, sk := range s.Keys {
		anyKey, err := x509.ParsePKCS8PrivateKey(sk.Key)
		if err != nil {
			return nil, fmt.Errorf("mnssign: decode key: %w", err)
		}
		priv, ok := anyKey.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("mnssign: stored key is %T, not RSA", anyKey)
		}
		if _, err := x509.ParseCertificate(sk.Cert); err != nil {
			return nil, fmt.Errorf("mnssign: decode certificate: %w", err)
		}
		sum := sha256.Sum256(sk.Cert)
		id := hex.EncodeToString(sum[:8])
		keys = append(keys, &Key{
			ID:        id,
			CertURL:   k.cfg.BaseURL + CertPathPrefix + id + ".pem",
			CertPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: sk.Cert}),
			Activated: sk.Activated,
			Retires:   sk.Retires,
			priv:      priv,
		})
	}
	return keys, nil
}

// adopt makes raw the in-memory keyring unless it already is.
func (k *Keyring) adopt(raw []byte) error {
	k.mu.RLock()
	same := bytes.Equal(k.raw, raw)
	k.mu.RUnlock()
	if same {
		return nil
	}
	keys, err := k.decode(raw)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return errors.New("mnssign: stored keyring holds no key")
	}
	k.mu.Lock()
	k.raw, k.keys = raw, keys
	k.mu.Unlock()
	return nil
}

// MemStore is an in-memory KeyStore for tests and single-process use.
type MemStore struct {
	mu   sync.Mutex
	data []byte
}

// Load implements KeyStore.
func (m *MemStore) Load(context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return bytes.Clone(m.data), nil
}

// Save implements KeyStore.
func (m *MemStore) Save(_ context.Context, prev, next []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !bytes.Equal(m.data, prev) {
		return ErrConflict
	}
	m.data = bytes.Clone(next)
	return nil
}
