// Package config reads herald's settings: command-line flags first, then
// HERALD_<UPPER_SNAKE> environment variables, then the YAML file named by
// --config, then the defaults. The flag names, their env and YAML spellings
// and their defaults are herald's external contract.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config holds every setting of `herald serve`.
type Config struct {
	// DataDir is the embedded engine's storage. Defaults to "./data".
	DataDir string
	// HTTPAddr serves the CMQ API, /healthz, /metrics and the signing
	// certificates. Defaults to ":8080".
	HTTPAddr string
	// MQTTAddr is the MQTT TCP listener; empty turns it off. Defaults to ":1883".
	MQTTAddr string
	// MQTTHTTPAddr is the MQTT HTTP publish gateway; empty turns it off.
	// Defaults to ":8081".
	MQTTHTTPAddr string
	// MQTTTLSAddr is the MQTT-over-TLS listener; empty turns it off. Defaults to "".
	MQTTTLSAddr string
	// MQTTTLSCert, MQTTTLSKey and MQTTClientCA are PEM files for the MQTT TLS
	// listener and the gateway's HTTPS; a client CA turns on client
	// certificates. Default to "".
	MQTTTLSCert, MQTTTLSKey, MQTTClientCA string
	// MQTTHTTPTLS serves the gateway over HTTPS with the MQTT TLS files.
	// Defaults to false.
	MQTTHTTPTLS bool
	// SecretID and SecretKey are the bootstrap account's API credentials.
	// Default to generated on first start.
	SecretID, SecretKey string
	// AppID is the bootstrap account's APPID. Defaults to 1000000.
	AppID int64
	// AllowPrivateEndpoints allows pushes to loopback and private addresses.
	// Defaults to false.
	AllowPrivateEndpoints bool
	// Delivery runs the fan-out, retries and pushes in this process; false
	// makes an API-only node that stores what is published and leaves the
	// delivering to other processes on the same cluster. Defaults to true.
	Delivery bool
	// RetryIntervalScale multiplies every retry interval (tests only).
	// Defaults to 1.
	RetryIntervalScale float64
	// DeliveryAckWait is how long the deliveries of a crashed process wait
	// before another process (or the restarted one) takes them over.
	// Defaults to 30s.
	DeliveryAckWait time.Duration
	// NatsURL uses an external JetStream cluster. Defaults to "" (embedded).
	NatsURL string
	// NatsReplicas is the stream replica count on an external cluster.
	// Defaults to 3.
	NatsReplicas int
	// NatsCreds is a credentials file for the external cluster. Defaults to "".
	NatsCreds string
	// Fsync is "always" or how often the embedded engine fsyncs. Defaults to "2m".
	Fsync string
	// EngineRetryTimeout is how long an API request waits for the engine
	// (a new stream leader) before failing with a retryable error. Defaults
	// to 5s.
	EngineRetryTimeout time.Duration
	// PushTimeout is how long an endpoint has to answer a push. Defaults to 15s.
	PushTimeout time.Duration
	// MaxSubscriptionsPerTopic caps Subscribe. Defaults to 100.
	MaxSubscriptionsPerTopic int
	// SignatureWindow is how far a request's Timestamp may be from now.
	// Defaults to 5m.
	SignatureWindow time.Duration
	// PublicURL is the base URL at which receivers reach this server (the MNS
	// signing certificate URL). Defaults to "http://<http-addr>".
	PublicURL string
	// MNSKeyRotation replaces the MNS signing key once it is this old; 0
	// never. Defaults to 720h (30 days).
	MNSKeyRotation time.Duration
	// MaxConnections caps the connections each listener (HTTP API, MQTT
	// gateway, MQTT, MQTT over TLS) holds open at once; more wait in the
	// kernel's accept queue. 0 derives it from the open-file limit, keeping a
	// quarter of it (at least 256) for the engine. Defaults to 0.
	MaxConnections int
	// HTTPReadTimeout is how long a client has to send a whole HTTP request,
	// body included, on the API and the MQTT gateway; a long poll's wait
	// does not count. Defaults to 30s.
	HTTPReadTimeout time.Duration
	// PprofAddr serves Go's runtime profiles (net/http/pprof under
	// /debug/pprof/) on a listener of its own; empty turns it off. They
	// tell anyone who reaches them about the process, so bind it to a
	// loopback address. Defaults to "" (off).
	PprofAddr string
	// LogLevel is debug, info, warn or error. Defaults to "info".
	LogLevel string
	// LogFormat is "text" (logfmt) or "json". Defaults to "text".
	LogFormat string
	// MQTT is the `mqtt:` section of the YAML file, decoded by the mqtt
	// package (users, ACLs, rate limits).
	MQTT yaml.Node
	// ConfigFile is the YAML file read, if any.
	ConfigFile string
}

// Parse reads args (without the command name), the environment (getenv) and
// the YAML file named by --config.
func Parse(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("herald serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.ConfigFile, "config", "", "YAML configuration file")
	fs.StringVar(&c.DataDir, "data-dir", "./data", "embedded engine storage")
	fs.StringVar(&c.HTTPAddr, "http-addr", ":8080", "CMQ API, /healthz, /metrics, signing certificates")
	fs.StringVar(&c.MQTTAddr, "mqtt-addr", ":1883", "MQTT TCP listener (empty = off)")
	fs.StringVar(&c.MQTTHTTPAddr, "mqtt-http-addr", ":8081", "MQTT HTTP publish gateway (empty = off)")
	fs.StringVar(&c.MQTTTLSAddr, "mqtt-tls-addr", "", "MQTT over TLS listener (empty = off)")
	fs.StringVar(&c.MQTTTLSCert, "mqtt-tls-cert", "", "PEM certificate for MQTT TLS and gateway HTTPS")
	fs.StringVar(&c.MQTTTLSKey, "mqtt-tls-key", "", "PEM key for MQTT TLS and gateway HTTPS")
	fs.StringVar(&c.MQTTClientCA, "mqtt-client-ca", "", "PEM CA bundle: require client certificates signed by it")
	fs.BoolVar(&c.MQTTHTTPTLS, "mqtt-http-tls", false, "serve the MQTT HTTP gateway over HTTPS")
	fs.StringVar(&c.SecretID, "secret-id", "", "bootstrap account SecretId (generated on first start)")
	fs.StringVar(&c.SecretKey, "secret-key", "", "bootstrap account SecretKey (generated on first start)"+setNote(getenv, "secret-key"))
	fs.Int64Var(&c.AppID, "app-id", 1000000, "bootstrap account APPID (TopicOwner)")
	fs.BoolVar(&c.AllowPrivateEndpoints, "allow-private-endpoints", false, "allow push to loopback/private addresses (dev and tests)")
	fs.BoolVar(&c.Delivery, "delivery", true, "deliver topic messages from this process (false: an API-only node)")
	fs.Float64Var(&c.RetryIntervalScale, "retry-interval-scale", 1, "multiplies every retry interval (tests only)")
	fs.DurationVar(&c.DeliveryAckWait, "delivery-ack-wait", 30*time.Second, "how long a crashed process's deliveries wait before they are taken over")
	fs.StringVar(&c.NatsURL, "nats-url", "", "external NATS JetStream cluster (empty = embedded)")
	fs.IntVar(&c.NatsReplicas, "nats-replicas", 3, "stream replicas on the external cluster")
	fs.StringVar(&c.NatsCreds, "nats-creds", "", "credentials file for the external cluster")
	fs.StringVar(&c.Fsync, "fsync", "2m", `"always", or how often the embedded engine fsyncs (e.g. 1s, 2m)`)
	fs.DurationVar(&c.EngineRetryTimeout, "engine-retry-timeout", 5*time.Second,
		"how long an API request waits for the engine (e.g. a new stream leader) before a retryable error")
	fs.DurationVar(&c.PushTimeout, "push-timeout", 15*time.Second, "how long an endpoint has to answer a push")
	fs.IntVar(&c.MaxSubscriptionsPerTopic, "max-subscriptions-per-topic", 100, "subscriptions allowed on one topic")
	fs.DurationVar(&c.SignatureWindow, "signature-window", 5*time.Minute, "allowed distance of a request Timestamp from now")
	fs.StringVar(&c.PublicURL, "public-url", "", "base URL receivers use to reach this server (default http://<http-addr>)")
	fs.DurationVar(&c.MNSKeyRotation, "mns-key-rotation", 720*time.Hour, "replace the MNS signing key when it is this old (0 = never)")
	fs.IntVar(&c.MaxConnections, "max-connections", 0, "connections each listener holds open at once; more wait (0 = from the open-file limit)")
	fs.DurationVar(&c.HTTPReadTimeout, "http-read-timeout", 30*time.Second, "how long a client has to send an HTTP request with its body")
	fs.StringVar(&c.PprofAddr, "pprof-addr", "", "serve Go profiles at /debug/pprof/ on this address, e.g. 127.0.0.1:6060 (empty = off)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["config"] {
		if v := getenv(EnvName("config")); v != "" {
			c.ConfigFile = v
		}
	}
	// Environment, for flags not given on the command line.
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || f.Name == "config" {
			return
		}
		if v, ok := lookup(getenv, EnvName(f.Name)); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", EnvName(f.Name), err))
			}
			set[f.Name] = true
		}
	})
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	if c.ConfigFile != "" {
		if err := applyFile(fs, &c, set); err != nil {
			return c, err
		}
	}
	return c, c.validate()
}

// setNote tells help that a flag holding a secret is set in the
// environment, without its value (no secret flag has a default to print).
func setNote(getenv func(string) string, flagName string) string {
	if getenv(EnvName(flagName)) == "" {
		return ""
	}
	return " (default from $" + EnvName(flagName) + ", set)"
}

func lookup(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

// EnvName is the environment variable for a flag: HERALD_<UPPER_SNAKE>.
func EnvName(flagName string) string {
	return "HERALD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// YAMLName is the YAML key for a flag: snake_case.
func YAMLName(flagName string) string { return strings.ReplaceAll(flagName, "-", "_") }

func applyFile(fs *flag.FlagSet, c *Config, set map[string]bool) error {
	raw, err := os.ReadFile(c.ConfigFile)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return applyYAML(fs, c, set, raw)
}

func applyYAML(fs *flag.FlagSet, c *Config, set map[string]bool, raw []byte) error {
	var doc map[string]yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("config %s: %w", c.ConfigFile, err)
	}
	byYAML := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) { byYAML[YAMLName(f.Name)] = f.Name })
	for key, node := range doc {
		if key == "mqtt" {
			c.MQTT = node
			continue
		}
		name, ok := byYAML[key]
		if !ok || name == "config" {
			return fmt.Errorf("config %s: line %d: unknown key %q", c.ConfigFile, node.Line, key)
		}
		if set[name] {
			continue
		}
		if node.Kind != yaml.ScalarNode {
			return fmt.Errorf("config %s: line %d: %s must be a single value", c.ConfigFile, node.Line, key)
		}
		if err := fs.Set(name, node.Value); err != nil {
			return fmt.Errorf("config %s: line %d: %s: %w", c.ConfigFile, node.Line, key, err)
		}
	}
	return nil
}

func (c Config) validate() error {
	var errs []error
	if c.DataDir == "" && c.NatsURL == "" {
		errs = append(errs, errors.New("--data-dir must not be empty"))
	}
	if c.HTTPAddr == "" {
		errs = append(errs, errors.New("--http-addr must not be empty"))
	}
	if c.AppID <= 0 {
		errs = append(errs, errors.New("--app-id must be a positive number"))
	}
	if (c.SecretID == "") != (c.SecretKey == "") {
		errs = append(errs, errors.New("--secret-id and --secret-key go together"))
	}
	if c.SecretID != "" && !strings.HasPrefix(c.SecretID, "AKID") {
		errs = append(errs, errors.New("--secret-id must begin with AKID"))
	}
	if c.RetryIntervalScale <= 0 {
		errs = append(errs, errors.New("--retry-interval-scale must be positive"))
	}
	if c.DeliveryAckWait < time.Second {
		errs = append(errs, errors.New("--delivery-ack-wait must be at least 1s"))
	}
	if _, _, err := c.FsyncPolicy(); err != nil {
		errs = append(errs, err)
	}
	if c.EngineRetryTimeout <= 0 {
		errs = append(errs, errors.New("--engine-retry-timeout must be positive"))
	}
	if c.PushTimeout <= 0 {
		errs = append(errs, errors.New("--push-timeout must be positive"))
	}
	if c.MaxSubscriptionsPerTopic < 1 {
		errs = append(errs, errors.New("--max-subscriptions-per-topic must be at least 1"))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("--log-format %q: want text or json", c.LogFormat))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		errs = append(errs, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel))
	}
	if c.MaxConnections < 0 {
		errs = append(errs, errors.New("--max-connections must not be negative (0 = from the open-file limit)"))
	}
	if c.HTTPReadTimeout <= 0 {
		errs = append(errs, errors.New("--http-read-timeout must be positive"))
	}
	if c.NatsReplicas < 1 || c.NatsReplicas > 5 {
		errs = append(errs, errors.New("--nats-replicas must be 1..5"))
	}
	return errors.Join(errs...)
}

// FsyncPolicy decodes --fsync into "fsync every write" or an interval.
func (c Config) FsyncPolicy() (always bool, interval time.Duration, err error) {
	if strings.EqualFold(c.Fsync, "always") {
		return true, 0, nil
	}
	d, err := time.ParseDuration(c.Fsync)
	if err != nil || d <= 0 {
		return false, 0, fmt.Errorf(`--fsync %q: want "always" or a positive duration`, c.Fsync)
	}
	return false, d, nil
}
