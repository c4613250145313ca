package server

import (
	"fmt"
	"log/slog"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/config"
	"github.com/herald-mq/herald/internal/mqtt"
)

// listenerKeys are mqtt.Config's listener settings, which herald takes from
// its flags (--mqtt-addr …, HERALD_MQTT_ADDR, top-level mqtt_addr) rather
// than from the mqtt: section, so that there is one place to set each.
var listenerKeys = []string{"addr", "http_addr", "tls_addr", "tls_cert", "tls_key", "client_ca", "http_tls"}

// newMQTT builds the broker and gateway from the flags and the YAML mqtt:
// section (users, ACLs, rates), keeping the broker's durable state in the
// engine's bucket opened with kv, serving the sockets lns. With cluster
// (an external engine, which other processes may share), the broker is one
// of the brokers on it.
func newMQTT(cfg config.Config, clk clock.Clock, log *slog.Logger, kv mqtt.KVFunc, stream mqtt.StreamFunc, cluster *mqtt.Cluster, lns mqtt.Listeners) (*mqtt.Server, error) {
	mc := mqtt.DefaultConfig()
	if !cfg.MQTT.IsZero() {
		var keys map[string]yaml.Node
		if err := cfg.MQTT.Decode(&keys); err != nil {
			return nil, fmt.Errorf("config: mqtt: %w", err)
		}
		for _, k := range listenerKeys {
			if _, ok := keys[k]; ok {
				return nil, fmt.Errorf("config: mqtt.%s: set listeners with --mqtt-%s or the top-level key mqtt_%s", k, flagSuffix(k), k)
			}
		}
		if err := cfg.MQTT.Decode(&mc); err != nil {
			return nil, fmt.Errorf("config: mqtt: %w", err)
		}
	}
	mc.Addr, mc.HTTPAddr, mc.TLSAddr = cfg.MQTTAddr, cfg.MQTTHTTPAddr, cfg.MQTTTLSAddr
	mc.TLSCert, mc.TLSKey, mc.ClientCA, mc.HTTPTLS = cfg.MQTTTLSCert, cfg.MQTTTLSKey, cfg.MQTTClientCA, cfg.MQTTHTTPTLS
	mc.MaxConns, mc.HTTPReadTimeout = maxConnections(cfg), cfg.HTTPReadTimeout
	opts := []mqtt.Option{mqtt.WithStore(kv, stream), mqtt.WithListeners(lns)}
	if cluster != nil {
		opts = append(opts, mqtt.WithCluster(*cluster))
	}
	return mqtt.New(mc, log, clk, opts...)
}

func flagSuffix(key string) string { return strings.ReplaceAll(key, "_", "-") }
