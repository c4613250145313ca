package conformance_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/herald-mq/herald/internal/engine"
	"github.com/herald-mq/herald/internal/engine/conformance"
	"github.com/herald-mq/herald/internal/engine/enginetest"
)

// cluster is the 3-node cluster every test of this binary shares.
var cluster *enginetest.Cluster

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	c, err := enginetest.StartCluster(ctx, 3)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance: start cluster:", err)
		os.Exit(1)
	}
	cluster = c
	code := m.Run()
	c.Stop()
	os.Exit(code)
}

func TestEmbedded(t *testing.T) {
	t.Parallel()
	conformance.Run(t, func(t *testing.T) *engine.Engine { return enginetest.New(t) })
}

func TestCluster(t *testing.T) {
	t.Parallel()
	conformance.Run(t, func(t *testing.T) *engine.Engine { return enginetest.OpenExternal(t, cluster.URL(), 3) })
}
