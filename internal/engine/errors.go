package engine

import (
	"context"
	"errors"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The engine's failures that callers answer alike, whatever the call.
var (
	// ErrUnavailable is a request the engine could not serve for now: a
	// stream without a leader (an election under way), a cluster without a
	// quorum, a connection being re-established, or no answer in time. The
	// request may be retried.
	ErrUnavailable = errors.New("engine unavailable")
	// ErrStorageFull is a write the engine refused, or could not make, for
	// lack of disk space. It may be retried once space is freed.
	ErrStorageFull = errors.New("engine storage full")
)

// classified is an engine error tagged with what it means to callers.
type classified struct {
	kind error // ErrUnavailable or ErrStorageFull
	err  error
}

func (e *classified) Error() string   { return e.kind.Error() + ": " + e.err.Error() }
func (e *classified) Unwrap() []error { return []error{e.kind, e.err} }

// JetStream API error codes (nats-server's jetstream_errors_generated.go).
const (
	codeClusterNoPeers     = 10005 // no suitable peers for placement (a node is down)
	codeClusterNotAvail    = 10008 // JetStream system temporarily unavailable
	codeClusterNotLeader   = 10009 // the cluster cannot handle the request (yet)
	codeInsufficient       = 10023 // insufficient resources
	codeNotEnabledAccount  = 10039
	codeStorageExceeded    = 10047 // insufficient storage resources available
	codeNotEnabled         = 10076
	codeStreamStoreFailed  = 10077 // the store refused the write; the text says why
	codeStreamOffline      = 10118
	codeMemoryExceeded     = 10028
	codePeerRemapFailed    = 10075
	outOfSpaceText         = "no space left"
	insufficientSpaceText  = "insufficient storage"
	insufficientResources  = "insufficient resources"
	maxStoreExceededSuffix = "resource limits exceeded"
)

// Classify tags err with ErrStorageFull when it is the engine refusing a
// write for lack of space, or with ErrUnavailable when it is the engine
// being unreachable or leaderless for now; other errors come back as they
// are. full reports whether the engine's disk is known to be full: an
// unanswered write is then put down to it.
func Classify(err error, full bool) error {
	if err == nil || errors.Is(err, ErrUnavailable) || errors.Is(err, ErrStorageFull) {
		return err
	}
	switch {
	case outOfSpace(err):
		return &classified{kind: ErrStorageFull, err: err}
	case unavailable(err) && full:
		return &classified{kind: ErrStorageFull, err: err}
	case unavailable(err):
		return &classified{kind: ErrUnavailable, err: err}
	}
	return err
}

func outOfSpace(err error) bool {
	var api *jetstream.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode {
		case codeInsufficient, codeStorageExceeded, codeMemoryExceeded:
			return true
		case codeStreamStoreFailed:
			return strings.Contains(api.Description, outOfSpaceText)
		}
	}
	msg := err.Error()
	return strings.Contains(msg, outOfSpaceText) || strings.Contains(msg, insufficientSpaceText) ||
		strings.Contains(msg, insufficientResources)
}

func unavailable(err error) bool {
	for _, target := range []error{
		nats.ErrNoResponders, jetstream.ErrNoStreamResponse, nats.ErrTimeout, context.DeadlineExceeded,
		nats.ErrConnectionReconnecting, nats.ErrReconnectBufExceeded, nats.ErrConnectionClosed, nats.ErrNoServers,
		nats.ErrDisconnected, jetstream.ErrJetStreamNotEnabled, jetstream.ErrJetStreamNotEnabledForAccount,
		jetstream.ErrJetStreamPublisherClosed,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	var api *jetstream.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode {
		case codeClusterNoPeers, codeClusterNotAvail, codeClusterNotLeader, codeNotEnabledAccount, codeNotEnabled,
			codeStreamOffline, codePeerRemapFailed:
			return true
		}
	}
	return false
}
