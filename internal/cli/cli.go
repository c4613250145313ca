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
	"text/tabwriter"
	"time"

	"github.com/herald-mq/herald/internal/config"
	"github.com/herald-mq/herald/internal/server"
	"github.com/herald-mq/herald/internal/version"
)

// usage is the top-level help, built from the command table so that it
// names the same arguments and flags as each command's own help.
func usage() string {
	var b strings.Builder
	b.WriteString("herald — self-hosted CMQ / MNS / MQTT messaging\n\nusage:\n")
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "  herald serve [flags]\trun the server (herald serve -h lists the flags)\n")
	for _, g := range clientGroups() {
		if g == "publish" {
			inv := newInvocation(g, publishCommand)
			var flags []string
			for _, p := range publishCommand.flags {
				flags = append(flags, "--"+p.flag)
			}
			fmt.Fprintf(tw, "  %s\t%s (%s; herald publish -h)\n", strings.TrimPrefix(strings.TrimSuffix(inv.usageLine(), "\n"), "usage: "), publishCommand.about, strings.Join(flags, ", "))
			continue
		}
		fmt.Fprintf(tw, "  herald %s COMMAND ...\t%s (herald %s -h)\n", g, aboutGroup(g), g)
	}
	fmt.Fprintf(tw, "  herald completion %s\tprint a shell completion script\n", strings.Join(shells, "|"))
	fmt.Fprintf(tw, "  herald version\tprint the version, commit and Go version\n")
	_ = tw.Flush()
	fmt.Fprintf(&b, "\nClient commands call the herald at $%s (default %s)\n"+
		"with the credentials in $%s and $%s; they print a table,\n"+
		"or the response's JSON with -o json.\n", serverEnv, defaultServer, secretIDEnv, secretKeyEnv)
	return b.String()
}

// Env is what a command reads from its surroundings.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Location is the time zone tables show times in. Defaults to
	// time.Local.
	Location *time.Location
}

// Main runs one command and returns the process exit code.
func Main(ctx context.Context, args []string, env Env) int {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, usage())
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], env)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(env.Stdout, usage())
		return 0
	case "version", "-version", "--version":
		fmt.Fprintln(env.Stdout, version.Get())
		return 0
	case "completion":
		return completion(args[1:], env)
	}
	if clientCommands[args[0]] {
		return runClient(ctx, args[0], args[1:], env)
	}
	fmt.Fprintf(env.Stderr, "herald: unknown command %q\n%s(herald -h lists the commands)\n", args[0], didYouMean(args[0], topCommands()))
	return 2
}

// topCommands are the first words herald accepts, for suggestions.
func topCommands() []string {
	return append([]string{"serve", "completion", "version", "help"}, clientGroups()...)
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
