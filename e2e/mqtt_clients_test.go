package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The MQTT clients that people use, against the binary: the broker must not
// break them. They are Debian's mosquitto-clients and python3-paho-mqtt
// (.ci/run installs them); without them these tests skip.

func startMQTT(t *testing.T) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "herald.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`
mqtt:
  allow_anonymous: true
  anonymous_acl:
    - {action: publish, filter: "public/#"}
    - {action: subscribe, filter: "public/#"}
  max_keepalive: 120
  users:
    - username: alice
      password: secret
      acl:
        - {action: publish, filter: "home/#"}
        - {action: subscribe, filter: "home/#"}
        - {action: subscribe, filter: "home/nosubscribe", allow: false}
`), 0o600))
	mqttAddr := freeAddr(t)
	start(t, t.TempDir(), nil, "--config", cfg, "--mqtt-addr", mqttAddr)
	return mqttAddr
}

// pahoPython finds a python3 that imports paho.mqtt.
func pahoPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(py, "-c", "import paho.mqtt.client").Run() == nil {
			return py
		}
	}
	t.Skip("no python3 with paho-mqtt (apt-get install python3-paho-mqtt): skipping the paho-mqtt client test")
	return ""
}

// pahoPublish is paho-mqtt 1.6 as an MQTT 5 application uses it: a QoS 1
// publish with a user property, done when on_publish fires. paho-mqtt 1.6.1
// raised in its network thread on a PUBACK with reason code 0x01 and echoed
// user properties, and on_publish never fired.
const pahoPublish = `
import sys, threading
import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes

host, port = sys.argv[1].rsplit(":", 1)
done = threading.Event()
connected = threading.Event()
c = mqtt.Client(client_id="py", protocol=mqtt.MQTTv5)
c.username_pw_set("alice", "secret")
c.on_connect = lambda c, u, f, rc, p=None: connected.set()
c.on_publish = lambda c, u, mid: done.set()
c.connect(host, int(port), keepalive=30)
c.loop_start()
if not connected.wait(10):
    sys.exit("no CONNACK")
props = Properties(PacketTypes.PUBLISH)
props.UserProperty = ("origin", "python")
c.publish("home/py", b"hello", qos=1, properties=props)
if not done.wait(10):
    sys.exit("on_publish never fired")
c.disconnect()
c.loop_stop()
print("published")
`

func TestPahoPythonPublishQoS1WithUserProperty(t *testing.T) {
	t.Parallel()
	py := pahoPython(t)
	addr := startMQTT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "-c", pahoPublish, addr).CombinedOutput()
	require.NoError(t, err, "paho-mqtt: %s", out)
	require.Equal(t, "published\n", string(out))
}

func TestMosquittoClientsRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"mosquitto_pub", "mosquitto_sub"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found (apt-get install mosquitto-clients): skipping the mosquitto clients test", tool)
		}
	}
	addr := startMQTT(t)
	host, port := splitHostPort(t, addr)
	for _, version := range []string{"311", "5"} {
		t.Run("mqttv"+version, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			topic := "home/mosquitto/" + version
			common := []string{"-h", host, "-p", port, "-V", version, "-u", "alice", "-P", "secret", "-q", "1", "-t", topic}
			// Retained, so that the subscriber gets it whenever it subscribes.
			out, err := exec.CommandContext(ctx, "mosquitto_pub", append(common, "-r", "-m", "hi "+version)...).CombinedOutput()
			require.NoError(t, err, "mosquitto_pub: %s", out)
			out, err = exec.CommandContext(ctx, "mosquitto_sub", append(common, "-C", "1", "-W", "10")...).CombinedOutput()
			require.NoError(t, err, "mosquitto_sub: %s", out)
			require.Equal(t, "hi "+version+"\n", string(out))

			// ACL refusals: a deny rule, and the anonymous ACL.
			denied := []string{"-h", host, "-p", port, "-V", version, "-C", "1", "-W", "10"}
			out, err = exec.CommandContext(ctx, "mosquitto_sub", append(denied, "-u", "alice", "-P", "secret", "-t", "home/nosubscribe")...).CombinedOutput()
			require.Contains(t, string(out), "All subscription requests were denied.", "err %v", err)
			out, err = exec.CommandContext(ctx, "mosquitto_sub", append(denied, "-t", "private/x")...).CombinedOutput()
			require.Contains(t, string(out), "All subscription requests were denied.", "err %v", err)
			anon := []string{"-h", host, "-p", port, "-V", version, "-q", "1", "-t", "public/" + version}
			out, err = exec.CommandContext(ctx, "mosquitto_pub", append(anon, "-r", "-m", "open")...).CombinedOutput()
			require.NoError(t, err, "mosquitto_pub: %s", out)
			out, err = exec.CommandContext(ctx, "mosquitto_sub", append(anon, "-C", "1", "-W", "10")...).CombinedOutput()
			require.NoError(t, err, "mosquitto_sub: %s", out)
			require.Equal(t, "open\n", string(out))

			// Wrong credentials: mosquitto_pub reports the broker's refusal.
			bad := []string{"-h", host, "-p", port, "-V", version, "-u", "alice", "-P", "wrong", "-t", topic, "-m", "x"}
			out, err = exec.CommandContext(ctx, "mosquitto_pub", bad...).CombinedOutput()
			require.Error(t, err)
			require.Contains(t, strings.ToLower(string(out)), "bad user name or password", "CONNACK 4 / 0x86")
		})
	}
}

func splitHostPort(t *testing.T, addr string) (string, string) {
	t.Helper()
	i := len(addr) - 1
	for addr[i] != ':' {
		i--
	}
	return addr[:i], addr[i+1:]
}
