package server

import (
	"log/slog"
	"net"
	"net/http"

	"github.com/herald-mq/herald/internal/config"
	"github.com/herald-mq/herald/internal/guard"
)

// newHTTPServer serves the API port's handler with a deadline on every
// stage of a request the client controls (see guard.Server).
func newHTTPServer(cfg config.Config, h http.Handler, log *slog.Logger) *http.Server {
	return guard.Server(h, cfg.HTTPReadTimeout, slog.NewLogLogger(log.Handler(), slog.LevelWarn))
}

// guardHTTP caps the API listener's connections and logs the cap, which
// every listener shares.
func guardHTTP(ln net.Listener, cfg config.Config, log *slog.Logger) net.Listener {
	files, n, maxConns := guard.OpenFiles(), listeners(cfg), maxConnections(cfg)
	log.Info("connection cap", "max_connections", maxConns, "listeners", n, "open_file_limit", files)
	if files > 0 && uint64(maxConns*n) > files-min(files, guard.Reserve(files)) {
		log.Warn("--max-connections leaves the engine too few of the open-file limit: "+
			"a flood of connections could keep it from opening its files; lower it or raise the limit (ulimit -n)",
			"max_connections", maxConns, "listeners", n, "open_file_limit", files, "reserved", guard.Reserve(files))
	}
	return guard.Listener(ln, guard.ListenerConfig{Name: "http", MaxConns: maxConns, Log: log})
}

// maxConnections is each listener's cap: --max-connections, or what the
// open-file limit leaves for the listeners.
func maxConnections(cfg config.Config) int {
	if cfg.MaxConnections > 0 {
		return cfg.MaxConnections
	}
	return guard.MaxConns(guard.OpenFiles(), listeners(cfg))
}

// listeners counts the listeners that accept client connections.
func listeners(cfg config.Config) int {
	n := 1 // the API
	for _, addr := range []string{cfg.MQTTAddr, cfg.MQTTHTTPAddr, cfg.MQTTTLSAddr} {
		if addr != "" {
			n++
		}
	}
	return n
}
