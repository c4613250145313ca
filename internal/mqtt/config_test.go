package mqtt

import (
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func TestConfigYAML(t *testing.T) {
	t.Parallel()
	const doc = `
mqtt:
  users:
    - username: alice
      password: secret
      acl:                       # no acl = allowed everything
        - {action: publish,   filter: "home/#"}
        - {action: subscribe, filter: "home/#"}
  http_publish_rate: 1000        # requests/s per username; over it: 429
`
	var file struct {
		MQTT Config `yaml:"mqtt"`
	}
	file.MQTT = DefaultConfig()
	require.NoError(t, yaml.Unmarshal([]byte(doc), &file))
	want := DefaultConfig()
	want.Users = []User{alice}
	want.HTTPPublishRate = 1000
	require.Equal(t, want, file.MQTT)
	require.NoError(t, file.MQTT.validate())
	require.Equal(t, ":1883", want.Addr)
	require.Equal(t, ":8081", want.HTTPAddr)
	require.Equal(t, 1<<20, want.MaxPacketSize)
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  Config
		err  string // "" = valid
	}{
		{"zero", Config{}, ""},
		{"users", Config{Users: []User{alice, root}}, ""},
		{"empty username", Config{Users: []User{{Password: "p"}}}, "users[0]: username is empty"},
		{"empty password", Config{Users: []User{{Username: "u"}}}, `users[0] "u": password is empty`},
		{"twice", Config{Users: []User{root, root}}, `users[1]: username "root" appears twice`},
		{
			"bad action",
			Config{Users: []User{{Username: "u", Password: "p", ACL: []ACLRule{{Action: "read", Filter: "a"}}}}},
			`users[0].acl[0]: action "read" is not publish or subscribe`,
		},
		{
			"bad filter",
			Config{Users: []User{{Username: "u", Password: "p", ACL: []ACLRule{{Action: "publish", Filter: "a/#/b"}}}}},
			`users[0].acl[0]: "a/#/b" is not an MQTT topic filter`,
		},
		{
			"empty filter",
			Config{Users: []User{{Username: "u", Password: "p", ACL: []ACLRule{{Action: "publish"}}}}},
			`users[0].acl[0]: "" is not an MQTT topic filter`,
		},
		{"tls without cert", Config{TLSAddr: ":8883"}, "tls_addr, http_tls and client_ca need tls_cert and tls_key"},
		{"https without cert", Config{HTTPTLS: true}, "tls_addr, http_tls and client_ca need tls_cert and tls_key"},
		{"negative packet size", Config{MaxPacketSize: -1}, "max_packet_size -1 is out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.cfg.WithDefaults().validate()
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, "mqtt config: "+tc.err)
		})
	}
}

func TestNewReportsBadTLSFiles(t *testing.T) {
	t.Parallel()
	_, err := New(Config{TLSAddr: "127.0.0.1:0", TLSCert: "/nonexistent.pem", TLSKey: "/nonexistent.key"}, discard(), nil)
	require.ErrorContains(t, err, "mqtt: load tls_cert and tls_key")
}

func TestCovers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		acl, topic string
		want       bool
	}{
		{"home/#", "home/kitchen", true},
		{"home/#", "home/kitchen/light", true},
		{"home/#", "home", true},
		{"home/#", "homes", false},
		{"home/#", "office/home", false},
		{"home/+", "home/kitchen", true},
		{"home/+", "home/kitchen/light", false},
		{"home/+", "home", false},
		{"home/+/temp", "home/kitchen/temp", true},
		{"home/+/temp", "home/kitchen/hum", false},
		{"#", "anything/at/all", true},
		{"#", "$SYS/broker", false},
		{"+/x", "$SYS/x", false},
		{"$SYS/#", "$SYS/broker/load", true},
		{"a/b", "a/b", true},
		{"a/b", "a/b/", false},
		{"a/+", "a/", true},
		// Subscription filters against ACL filters.
		{"home/#", "home/#", true},
		{"home/#", "home/+/temp", true},
		{"home/+", "home/+", true},
		{"home/+", "home/#", false},
		{"home/kitchen", "home/+", false},
		{"#", "#", true},
		{"home/#", "#", false},
		{"+/#", "a/+/#", true},
	} {
		require.Equal(t, tc.want, covers(tc.acl, tc.topic), "%q covers %q", tc.acl, tc.topic)
	}
}

func TestConfigYAMLNewKeys(t *testing.T) {
	t.Parallel()
	const doc = `
mqtt:
  allow_anonymous: true
  max_keepalive: 120
  anonymous_acl:
    - {action: subscribe, filter: "public/#"}
  users:
    - username: alice
      password: secret
      acl:
        - {action: subscribe, filter: "test/nosubscribe", allow: false}
        - {action: publish, filter: "devices/%c/#"}
`
	var file struct {
		MQTT Config `yaml:"mqtt"`
	}
	file.MQTT = DefaultConfig()
	require.NoError(t, yaml.Unmarshal([]byte(doc), &file))
	deny := false
	require.Equal(t, 120, file.MQTT.MaxKeepAlive)
	require.Equal(t, []ACLRule{{Action: ActionSubscribe, Filter: "public/#"}}, file.MQTT.AnonymousACL)
	require.Equal(t, []ACLRule{
		{Action: ActionSubscribe, Filter: "test/nosubscribe", Allow: &deny},
		{Action: ActionPublish, Filter: "devices/%c/#"},
	}, file.MQTT.Users[0].ACL)
	require.NoError(t, file.MQTT.validate())
	require.Equal(t, 300, DefaultConfig().MaxKeepAlive)
}

func TestConfigYAMLUnknownKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, doc, err string }{
		{"section", "mqtt:\n  users: []\n  allow_anonymus: true\n", `line 3: unknown key "allow_anonymus" in mqtt`},
		{"user", "mqtt:\n  users:\n    - username: a\n      pasword: b\n", `line 4: unknown key "pasword" in mqtt.users[]`},
		{"rule", "mqtt:\n  users:\n    - username: a\n      password: b\n      acl:\n        - {action: publish, filter: a, deny: true}\n", `line 6: unknown key "deny" in acl rule`},
		{"anonymous rule", "mqtt:\n  anonymous_acl:\n    - {action: publish, topic: a}\n", `line 3: unknown key "topic" in acl rule`},
		{"flag-only field", "mqtt:\n  max_conns: 3\n", `line 2: unknown key "max_conns" in mqtt`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var file struct {
				MQTT Config `yaml:"mqtt"`
			}
			require.EqualError(t, yaml.Unmarshal([]byte(tc.doc), &file), tc.err)
		})
	}
}

func TestConfigValidateNewKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  Config
		err  string
	}{
		{"keepalive too long", Config{MaxKeepAlive: 65536}, "max_keepalive 65536 is out of range (1 to 65535 seconds)"},
		{"keepalive negative", Config{MaxKeepAlive: -1}, "max_keepalive -1 is out of range (1 to 65535 seconds)"},
		{
			"anonymous acl without anonymous",
			Config{AnonymousACL: []ACLRule{{Action: ActionPublish, Filter: "a"}}},
			"anonymous_acl needs allow_anonymous: true",
		},
		{
			"bad anonymous rule",
			Config{AllowAnonymous: true, AnonymousACL: []ACLRule{{Action: "write", Filter: "a"}}},
			`anonymous_acl[0]: action "write" is not publish or subscribe`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.EqualError(t, tc.cfg.WithDefaults().validate(), "mqtt config: "+tc.err)
		})
	}
}

func TestACLEvaluation(t *testing.T) {
	t.Parallel()
	deny := false
	dir := newDirectory(Config{
		AllowAnonymous: true,
		AnonymousACL:   []ACLRule{{Action: ActionSubscribe, Filter: "public/#"}},
		Users: []User{
			{Username: "mixed", Password: "p", ACL: []ACLRule{
				{Action: ActionSubscribe, Filter: "test/#"},
				{Action: ActionSubscribe, Filter: "test/nosubscribe", Allow: &deny},
				{Action: ActionPublish, Filter: "devices/%c/#"},
				{Action: ActionPublish, Filter: "users/%u/#"},
			}},
			{Username: "denyonly", Password: "p", ACL: []ACLRule{
				{Action: ActionPublish, Filter: "secret/#", Allow: &deny},
			}},
			{Username: "free", Password: "p"},
		},
	})
	for _, tc := range []struct {
		identity, clientID, action, topic string
		want                              bool
	}{
		{"mixed", "c1", ActionSubscribe, "test/a", true},
		{"mixed", "c1", ActionSubscribe, "test/#", true}, // partly denied: delivery filters
		{"mixed", "c1", ActionSubscribe, "test/nosubscribe", false},
		{"mixed", "c1", ActionSubscribe, "$share/g/test/nosubscribe", false},
		{"mixed", "c1", ActionSubscribe, "other", false}, // has allow rules: the rest is refused
		{"mixed", "c1", ActionPublish, "test/a", false},
		{"mixed", "c1", ActionPublish, "devices/c1/temp", true},
		{"mixed", "c1", ActionPublish, "devices/c2/temp", false},
		{"mixed", "a+b", ActionPublish, "devices/a+b/temp", false}, // wildcard in the client id
		{"mixed", "a/b", ActionPublish, "devices/a/b/temp", false}, // separator in the client id
		{"mixed", "c1", ActionPublish, "users/mixed/x", true},
		{"denyonly", "c", ActionPublish, "secret/x", false},
		{"denyonly", "c", ActionPublish, "open/x", true}, // only deny rules: the rest is allowed
		{"denyonly", "c", ActionSubscribe, "#", true},
		{"free", "c", ActionPublish, "anything", true},
		{"cert-cn", "c", ActionPublish, "anything", true}, // not a configured user
		{"", "c", ActionSubscribe, "public/news", true},
		{"", "c", ActionSubscribe, "private", false},
		{"", "c", ActionPublish, "public/news", false},
	} {
		var got bool
		if tc.action == ActionPublish {
			got = dir.mayPublish(tc.identity, tc.clientID, tc.topic)
		} else {
			got = dir.maySubscribe(tc.identity, tc.clientID, tc.topic)
		}
		require.Equal(t, tc.want, got, "%q (client %q) %s %q", tc.identity, tc.clientID, tc.action, tc.topic)
	}
}

// FuzzConfigYAML feeds mqtt: sections to the strict decoder and validate:
// either may refuse, neither may panic, and what validates builds a server.
func FuzzConfigYAML(f *testing.F) {
	for _, seed := range []string{
		"mqtt:\n  users:\n    - username: a\n      password: b\n      acl:\n        - {action: publish, filter: \"home/#\", allow: false}\n",
		"mqtt:\n  allow_anonymous: true\n  anonymous_acl:\n    - {action: subscribe, filter: \"devices/%c/#\"}\n  max_keepalive: 65535\n",
		"mqtt:\n  allow_anonymus: true\n",
		"mqtt: [1, 2]\n",
		"mqtt:\n  users: {a: b}\n",
		"mqtt:\n  users:\n    - [x]\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		var file struct {
			MQTT Config `yaml:"mqtt"`
		}
		file.MQTT = DefaultConfig()
		if yaml.Unmarshal([]byte(doc), &file) != nil {
			return
		}
		cfg := file.MQTT
		cfg.Addr, cfg.HTTPAddr, cfg.TLSAddr, cfg.TLSCert, cfg.TLSKey, cfg.ClientCA, cfg.HTTPTLS = "", "", "", "", "", "", false
		if cfg.WithDefaults().validate() != nil {
			return
		}
		_, err := New(cfg, discard(), nil)
		require.NoError(t, err)
	})
}
