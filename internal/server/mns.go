package server

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-mq/herald/internal/api/mns"
	"github.com/herald-mq/herald/internal/clock"
	"github.com/herald-mq/herald/internal/config"
)

// newMNSAPI builds the MNS REST API over the services the CMQ API uses,
// counted in herald_mns_requests_total.
func newMNSAPI(cfg config.Config, deps mns.Deps, clk clock.Clock, log *slog.Logger, reg prometheus.Registerer) (http.Handler, error) {
	deps.Clock, deps.Log = clk, log
	api, err := mns.New(mns.Config{
		SignatureWindow:          cfg.SignatureWindow,
		MaxSubscriptionsPerTopic: cfg.MaxSubscriptionsPerTopic,
		AllowPrivateEndpoints:    cfg.AllowPrivateEndpoints,
	}, deps)
	if err != nil {
		return nil, err
	}
	return instrument(reg, mnsMetrics, api), nil
}

// withMNS sends a request that carries x-mns-version (every MNS SDK sends
// it) to the MNS API, and anything else to next.
func withMNS(mnsAPI, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Header["X-Mns-Version"]; ok {
			mnsAPI.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
