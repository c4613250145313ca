package mqtt

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/herald-mq/herald/internal/guard"
)

// The listener addresses' defaults. An empty address turns its listener off,
// so WithDefaults cannot fill them in: DefaultConfig (and the CLI flags) do.
const (
	DefaultAddr     = ":1883"
	DefaultHTTPAddr = ":8081"
)

// Config is the `mqtt:` section of herald's YAML file plus the listener
// settings that `herald serve` maps from its flags.
type Config struct {
	// Addr is the MQTT TCP listener's address; "" turns it off. Defaults to
	// ":1883" (in DefaultConfig; WithDefaults keeps "").
	Addr string `yaml:"addr"`
	// HTTPAddr is the HTTP publish gateway's address; "" turns it off.
	// Defaults to ":8081" (in DefaultConfig; WithDefaults keeps "").
	HTTPAddr string `yaml:"http_addr"`
	// TLSAddr is the MQTT-over-TLS listener's address; "" turns it off. It
	// needs TLSCert and TLSKey. Defaults to "".
	TLSAddr string `yaml:"tls_addr"`
	// TLSCert is the PEM file of the server certificate (with its chain), for
	// the TLS listener and for the gateway's HTTPS. Defaults to "".
	TLSCert string `yaml:"tls_cert"`
	// TLSKey is the PEM file of TLSCert's private key. Defaults to "".
	TLSKey string `yaml:"tls_key"`
	// ClientCA is a PEM bundle of the CAs that sign client certificates. With
	// it, the TLS listener and the HTTPS gateway accept a client certificate
	// instead of a password; the certificate's Common Name is the identity.
	// Defaults to "" (no client certificates).
	ClientCA string `yaml:"client_ca"`
	// HTTPTLS serves the gateway over HTTPS with TLSCert and TLSKey.
	// Defaults to false.
	HTTPTLS bool `yaml:"http_tls"`
	// MaxConns caps the connections each listener (MQTT, MQTT over TLS, the
	// gateway) holds open at once; more wait in the kernel's accept queue.
	// herald sets it from --max-connections, not from the mqtt: section.
	// Defaults to 0: no cap.
	MaxConns int `yaml:"-"`
	// HTTPReadTimeout is how long a gateway client has to send a whole
	// request with its body. herald sets it from --http-read-timeout.
	// Defaults to 30s.
	HTTPReadTimeout time.Duration `yaml:"-"`
	// AllowAnonymous lets clients without credentials connect (MQTT) and
	// publish (the gateway), held to AnonymousACL. Defaults to false.
	AllowAnonymous bool `yaml:"allow_anonymous"`
	// AnonymousACL is the ACL of clients without credentials; it needs
	// AllowAnonymous. Defaults to none: anonymous clients may do everything.
	AnonymousACL []ACLRule `yaml:"anonymous_acl"`
	// Users are the accounts that MQTT CONNECT and the gateway's Basic
	// authentication check. Defaults to none.
	Users []User `yaml:"users"`
	// HTTPPublishRate is how many gateway requests per second each user may
	// make (a token bucket holding one second's worth); over it the gateway
	// answers 429. A negative rate turns the limit off. Defaults to 1000.
	HTTPPublishRate float64 `yaml:"http_publish_rate"`
	// MaxPacketSize is the largest MQTT packet the broker accepts and the
	// largest body the gateway accepts, in bytes. Defaults to 1048576 (1 MiB).
	MaxPacketSize int `yaml:"max_packet_size"`
	// MaxKeepAlive is the longest keep-alive, in seconds, that the broker
	// lets an MQTT 5 client have: one that asks for more, or for 0 (none),
	// is given this one in CONNACK's Server Keep Alive. MQTT 3.1.1 has no way
	// to say so, and keeps the keep-alive it asked for. At most 65535.
	// Defaults to 300.
	MaxKeepAlive int `yaml:"max_keepalive"`
}

// User is one account with its access rules.
type User struct {
	// Username is the MQTT username and the Basic-auth user. Required.
	Username string `yaml:"username"`
	// Password is compared in constant time. Required.
	Password string `yaml:"password"`
	// ACL lists what the user may do; a user without rules may publish and
	// subscribe to everything. Defaults to none.
	ACL []ACLRule `yaml:"acl"`
}

// ACLRule allows or denies one action on the topics an MQTT topic filter
// matches. The rules of an identity are evaluated together, in no order:
//  1. a deny rule that covers the request refuses it, whatever allows it;
//  2. else an allow rule that covers it allows it;
//  3. else it is refused, unless the identity has no allow rule at all
//     (only deny rules: everything else is allowed).
//
// A rule covers a publish when its filter matches the topic, and a
// subscription when its filter matches every topic the requested filter
// can match ("home/#" covers "home/+/temp", not "#"). A subscription that a
// deny rule only partly covers is granted, and the messages on the denied
// topics are not delivered to it.
type ACLRule struct {
	// Action is "publish" or "subscribe". Required.
	Action string `yaml:"action"`
	// Filter is an MQTT topic filter such as "home/#" or "home/+/temp". %u
	// stands for the user name and %c for the client id ("devices/%c/#");
	// a name that is empty or holds '+', '#' or '/' refuses the request.
	// Required.
	Filter string `yaml:"filter"`
	// Allow false makes the rule deny what it covers. Defaults to true.
	Allow *bool `yaml:"allow"`
}

// The ACL actions.
const (
	ActionPublish   = "publish"
	ActionSubscribe = "subscribe"
)

// DefaultConfig returns the defaults, with both plain listeners on. Decode
// the YAML onto it so that absent keys keep their defaults.
func DefaultConfig() Config {
	return Config{Addr: DefaultAddr, HTTPAddr: DefaultHTTPAddr}.WithDefaults()
}

// WithDefaults returns c with its zero fields set to their defaults, except
// the listener addresses, where "" means off.
func (c Config) WithDefaults() Config {
	c.HTTPPublishRate = cmp.Or(c.HTTPPublishRate, 1000)
	c.MaxPacketSize = cmp.Or(c.MaxPacketSize, 1<<20)
	c.HTTPReadTimeout = cmp.Or(c.HTTPReadTimeout, guard.DefaultReadTimeout)
	c.MaxKeepAlive = cmp.Or(c.MaxKeepAlive, 300)
	return c
}

func (c Config) validate() error {
	var errs []error
	if math.IsNaN(c.HTTPPublishRate) || math.IsInf(c.HTTPPublishRate, 0) {
		errs = append(errs, fmt.Errorf("http_publish_rate %v is not a number", c.HTTPPublishRate))
	}
	if c.MaxPacketSize < 0 || int64(c.MaxPacketSize) > math.MaxUint32 {
		errs = append(errs, fmt.Errorf("max_packet_size %d is out of range", c.MaxPacketSize))
	}
	if c.MaxKeepAlive < 0 || c.MaxKeepAlive > math.MaxUint16 {
		errs = append(errs, fmt.Errorf("max_keepalive %d is out of range (1 to 65535 seconds)", c.MaxKeepAlive))
	}
	if len(c.AnonymousACL) > 0 && !c.AllowAnonymous {
		errs = append(errs, errors.New("anonymous_acl needs allow_anonymous: true"))
	}
	errs = append(errs, validateACL("anonymous_acl", c.AnonymousACL)...)
	if c.MaxConns < 0 {
		errs = append(errs, fmt.Errorf("max connections %d is negative", c.MaxConns))
	}
	if c.HTTPReadTimeout < 0 {
		errs = append(errs, fmt.Errorf("http read timeout %v is negative", c.HTTPReadTimeout))
	}
	needCert := c.TLSAddr != "" || c.HTTPTLS || c.ClientCA != ""
	if needCert && (c.TLSCert == "" || c.TLSKey == "") {
		errs = append(errs, errors.New("tls_addr, http_tls and client_ca need tls_cert and tls_key"))
	}
	seen := make(map[string]bool, len(c.Users))
	for i, u := range c.Users {
		switch {
		case u.Username == "":
			errs = append(errs, fmt.Errorf("users[%d]: username is empty", i))
		case seen[u.Username]:
			errs = append(errs, fmt.Errorf("users[%d]: username %q appears twice", i, u.Username))
		case u.Password == "":
			errs = append(errs, fmt.Errorf("users[%d] %q: password is empty", i, u.Username))
		}
		seen[u.Username] = true
		errs = append(errs, validateACL(fmt.Sprintf("users[%d].acl", i), u.ACL)...)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("mqtt config: %w", err)
	}
	return nil
}

func validateACL(where string, rules []ACLRule) []error {
	var errs []error
	for j, r := range rules {
		if r.Action != ActionPublish && r.Action != ActionSubscribe {
			errs = append(errs, fmt.Errorf("%s[%d]: action %q is not publish or subscribe", where, j, r.Action))
		}
		if !validFilter(r.Filter) {
			errs = append(errs, fmt.Errorf("%s[%d]: %q is not an MQTT topic filter", where, j, r.Filter))
		}
	}
	return errs
}

// UnmarshalYAML decodes the mqtt: section, refusing a key it does not know
// with the key's line, so that a mistyped setting is not silently ignored.
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	if err := knownKeys(n, "mqtt", Config{}); err != nil {
		return err
	}
	type plain Config
	return n.Decode((*plain)(c))
}

// UnmarshalYAML decodes one of mqtt.users, refusing unknown keys.
func (u *User) UnmarshalYAML(n *yaml.Node) error {
	if err := knownKeys(n, "mqtt.users[]", User{}); err != nil {
		return err
	}
	type plain User
	return n.Decode((*plain)(u))
}

// UnmarshalYAML decodes one ACL rule, refusing unknown keys.
func (r *ACLRule) UnmarshalYAML(n *yaml.Node) error {
	if err := knownKeys(n, "acl rule", ACLRule{}); err != nil {
		return err
	}
	type plain ACLRule
	return n.Decode((*plain)(r))
}

// knownKeys fails on a key of the mapping n that is not a yaml tag of the
// struct v; other kinds of node are left to Decode to refuse.
func knownKeys(n *yaml.Node, where string, v any) error {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	t := reflect.TypeOf(v)
	known := make(map[string]bool, t.NumField())
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
			known[name] = true
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !known[k.Value] {
			return fmt.Errorf("line %d: unknown key %q in %s", k.Line, k.Value, where)
		}
	}
	return nil
}

// tlsConfig loads the certificate files; it returns nil when no TLS is set up.
func (c Config) tlsConfig() (*tls.Config, error) {
	if c.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("mqtt: load tls_cert and tls_key: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.ClientCA != "" {
		pem, err := os.ReadFile(c.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("mqtt: read client_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mqtt: client_ca %s holds no PEM certificate", c.ClientCA)
		}
		tc.ClientCAs = pool
		// A certificate is one way to authenticate; clients without one
		// still get to present a password.
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return tc, nil
}
