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

// An MQTT 5 client that asks for no keep-alive is given max_keepalive and
// held to it: silent for 1.5 times that, it is disconnected.
func TestServerKeepAliveIsEnforced(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{Users: []User{root}, HTTPAddr: "-", MaxKeepAlive: 1}, nil)
	c := dialRaw(t, s.MQTTAddr(), 5)
	pk := connectPacket(5, "silent", root.Username, root.Password)
	pk.Connect.Keepalive = 0
	ack := c.connect(pk)
	require.True(t, ack.Properties.ServerKeepAliveFlag)
	require.Equal(t, uint16(1), ack.Properties.ServerKeepAlive)
	c.expectClosed()
}
