// Command herald is a self-hosted messaging service: CMQ topics, queues and
// HTTP push, MNS-signed notifications and an MQTT v5 broker, in one binary.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/herald-mq/herald/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	stop()
	os.Exit(code)
}
