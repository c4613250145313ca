package server

import (
	"context"
	"fmt"
	"net"

	"github.com/herald-mq/herald/internal/config"
	"github.com/herald-mq/herald/internal/mqtt"
)

// sockets are every listener herald serves. They are opened before the
// engine, so that a port in use stops herald before anything (the data
// directory, generated credentials) is written.
type sockets struct {
	http net.Listener
	// pprof serves the runtime profiles (--pprof-addr); nil when off.
	pprof net.Listener
	mqtt  mqtt.Listeners // the broker's, those turned off nil
}

// listen opens every listener cfg turns on; on error, none stays open.
func listen(ctx context.Context, cfg config.Config) (*sockets, error) {
	s := &sockets{}
	var err error
	open := func(name, addr string) net.Listener {
		if err != nil || addr == "" {
			return nil
		}
		var ln net.Listener
		if ln, err = (&net.ListenConfig{}).Listen(ctx, "tcp", addr); err != nil {
			err = fmt.Errorf("%s listener: %w", name, err)
		}
		return ln
	}
	s.http = open("http", cfg.HTTPAddr)
	s.pprof = open("pprof", cfg.PprofAddr)
	s.mqtt.MQTT = open("mqtt", cfg.MQTTAddr)
	s.mqtt.TLS = open("mqtt tls", cfg.MQTTTLSAddr)
	s.mqtt.HTTP = open("mqtt http gateway", cfg.MQTTHTTPAddr)
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// close closes every listener; closing one already closed by the server
// that served it does nothing.
func (s *sockets) close() {
	for _, ln := range []net.Listener{s.http, s.pprof, s.mqtt.MQTT, s.mqtt.TLS, s.mqtt.HTTP} {
		if ln != nil {
			_ = ln.Close()
		}
	}
}
