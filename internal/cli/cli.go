// Package cli is the herald command line: `herald serve` and the client
// commands that call a running server's API like any other client.
package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/herald-mq/herald/internal/config"
	"github.com/herald-mq/herald/internal/server"
	"github.com/herald-mq/herald/internal/version"
)

const usage = `herald — self-hosted CMQ / MNS / MQTT messaging

usage:
  herald serve [flags]          run the server (herald serve -h lists the flags)
  herald topic ...              manage topics           (herald topic -h)
  herald subscription ...       manage subscriptions    (herald subscription -h)
  herald publish TOPIC BODY     publish a message       (herald publish -h)
  herald queue ...              manage queues           (herald queue -h)
  herald account ...            manage accounts         (herald account -h)
  herald key ...                manage API keys         (herald key -h)
  herald version                print the version, commit and Go version
`

// Env is what a command reads from its surroundings.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// Main runs one command and returns the process exit code.
func Main(ctx context.Context, args []string, env Env) int {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], env)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(env.Stdout, usage)
		return 0
	case "version", "-version", "--version":
		fmt.Fprintln(env.Stdout, version.Get())
		return 0
	}
	if clientCommands[args[0]] {
		return runClient(ctx, args[0], args[1:], env)
	}
	fmt.Fprintf(env.Stderr, "herald: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func serve(ctx context.Context, args []string, env Env) int {
	cfg, err := config.Parse(args, env.Getenv, env.Stderr)
	if err != nil {
		if strings.Contains(err.Error(), "help requested") {
			return 0
		}
		fmt.Fprintf(env.Stderr, "herald serve: %v\n", err)
		return 2
	}
	log := newLogger(env.Stderr, cfg.LogFormat, cfg.LogLevel)
	log.Info("herald starting", "version", version.Get().Version, "commit", version.Get().Revision)
	if err := server.Run(ctx, cfg, env.Stdout, log); err != nil {
		log.Error("herald serve failed", "err", err)
		return 1
	}
	return 0
}

// newLogger writes records as JSON or as text at the given level.
func newLogger(w io.Writer, format, level string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: logLevel(level)}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func logLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
