package mqtt

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMochiLogQuietsRefusedPublishes(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(mochiLog{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})}).With("component", "mqtt")
	log.Error(mochiRefusedPublish, "error", "not authorized", "packet", "payload")
	log.Error("something else")
	log.Debug("debug")
	require.Equal(t, 1, strings.Count(buf.String(), "\n"), buf.String())
	require.Contains(t, buf.String(), "level=ERROR msg=\"something else\" component=mqtt")

	buf.Reset()
	log = slog.New(mochiLog{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})})
	log.Error(mochiRefusedPublish, "error", "not authorized")
	require.Contains(t, buf.String(), `level=DEBUG msg="publish packet error" error="not authorized"`)
}
