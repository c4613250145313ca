// Package mqtt is herald's embedded MQTT 3.1.1/5 broker (mochi-mqtt) with
// users and ACLs from the config, and the HTTP publish gateway of Tencent
// TDMQ for MQTT: POST /topics/{url-encoded-topic}.
//
// # Listeners
//
// Server runs up to three: MQTT over TCP (Config.Addr), MQTT over TLS
// (TLSAddr) and the gateway over HTTP/1.0 and 1.1 (HTTPAddr), HTTPS with
// HTTPTLS. With ClientCA, TLS clients may present a certificate signed by it
// instead of a password; the certificate's Common Name is then the
// client's identity (and, on the gateway, its client id). Each listener
// holds at most MaxConns connections (more wait in the kernel's accept
// queue); an MQTT client must send CONNECT within guard.HeaderTimeout and a
// gateway request must arrive with its body within HTTPReadTimeout.
//
// # Identity and ACL
//
// An MQTT client authenticates with a username and password, else with a
// verified client certificate, else not at all, which only AllowAnonymous
// permits. A username without a password is refused rather than taken as
// anonymous. The gateway does the same with Authorization: Basic, the
// certificate, or nothing; its username parameter never changes the
// identity. A configured user is held to its ACL and an anonymous client to
// AnonymousACL; no rules, and a certificate whose Common Name is no
// username, allow everything. Rules allow or deny (ACLRule.Allow); a deny
// rule that covers a request refuses it, else an allow rule that covers it
// allows it, else it is refused unless there is no allow rule at all. A
// subscribe rule covers a filter when it matches every topic of it ("home/#"
// covers "home/+/temp", not "#"); the broker checks delivery again per
// topic. %u and %c in a filter stand for the user name and client id.
//
// # Conformance
//
// protocolHook (conform.go) corrects what mochi-mqtt would send against
// MQTT 5 and 3.1.1 (acknowledgement codes and properties, 3.1.1 CONNACK
// codes, no DISCONNECT to 3.1.1 clients, Server Keep Alive up to
// MaxKeepAlive, resend order), authHook answers ACL refusals with each
// version's codes, and lingerConn lets a DISCONNECT reach the client before
// the connection closes. conformance_test.go checks it with raw packets.
//
// # What 200 means
//
// The gateway answers 200 with X-Message-Id (32 upper-case hex characters,
// random; herald's own identifier, not sent to subscribers) once the broker
// has accepted the message: it has been matched against the current
// subscriptions and put into every matching session (for QoS 1 and 2 into
// the session's inflight store, from which the broker delivers and
// redelivers until the subscriber acknowledges, offline persistent sessions
// included), and, with retained=true, stored as the topic's retained message.
// It does not mean that a subscriber has received or acknowledged it. The
// gateway does no QoS handshake of its own: qos is the QoS the message is
// published at, so each subscriber gets it at the lower of qos and its
// subscription's QoS. On a cluster (WithCluster), it also means the message
// is in the stream MsgStream, from which the other processes' brokers put it
// into their sessions after the answer.
//
// # One broker across processes
//
// With WithCluster (herald on an external engine), the brokers of all the
// processes behave as one (cluster.go): each publish a broker accepts is
// written to MsgStream before it is acknowledged, and every other broker
// reads the stream and publishes it to its subscribers through an inline
// client of clusterListener, which no hook forwards or stores again;
// fromCluster tells a hook which publishes were accepted here, so a hook
// that must see every MQTT message once cluster-wide (a bridge) acts on the
// others only. A client id is held by one broker at a time (the o. keys,
// claimed with compare-and-set; the holder is asked to let go, and the
// session is read from the bucket and caught up from the stream after what
// the holder had delivered, or after its checkpoint when it is gone).
// Shared subscriptions are balanced by NATS queue groups, one per share
// filter.
//
// # Durable state
//
// With WithStore, the broker keeps persistent sessions, their subscriptions
// and QoS 1/2 inflight messages, and retained messages in the engine bucket
// Bucket, written synchronously by a mochi storage hook (store.go) before
// the acknowledgement that depends on them: the gateway's 200, SUBACK,
// CONNACK, and an MQTT publisher's PUBACK or PUBREC (which mochi sends
// before routing the message, so the message is first written as pending
// and replayed at start if a crash came in between). A kill -9 loses nothing
// acknowledged; delivery is at least once. The store reads the bucket's
// stream directly when it starts and purges an ended session's keys from it
// (bucket.go), instead of listing keys through key watches, which can miss
// one. Without a store, everything is in memory.
//
// # Settings that drop or expire messages
//
// mochi-mqtt's defaults are changed or kept on purpose:
//   - Message expiry: mochi caps every message, and every retained message,
//     at 24 hours and stamps that expiry on messages that have none. herald
//     sets no cap: a message expires only by its own MessageExpiryInterval,
//     and retained messages stay until replaced or cleared, as in MQTT 5.
//   - Inflight limit, 8192 per client: QoS 1/2 messages awaiting a
//     subscriber's acknowledgement (or its return, for an offline persistent
//     session). Past it, new QoS 1/2 messages to that client are dropped and
//     counted in herald_mqtt_inflight_dropped_total.
//   - Write queue, 8192 per client: messages waiting to be written to a slow
//     connection. Past it, messages to that client are dropped and counted
//     in herald_mqtt_messages_dropped_total.
//   - Session expiry: as long as the client asks (MQTT 3 persistent sessions
//     never expire), so an abandoned persistent session keeps collecting up
//     to the inflight limit.
//   - Packet size: MaxPacketSize (1 MiB) bounds inbound MQTT packets (and is
//     announced in CONNACK) and the gateway's body; a subscriber that announces a smaller Maximum Packet
//     Size does not get larger messages, as MQTT 5 requires.
//
// # Errors
//
// Every gateway error has a short plain-text body; statusTable (errors.go)
// is the one map from errors to HTTP status: 400 bad path, topic, qos,
// retained, property or payload; 401 failed authentication or ACL denial;
// 405 any method but POST; 429 over http_publish_rate; 500 anything else.
//
// Metrics sit at the edges: Collectors returns the gateway's request
// counters (a middleware) and gauges read from mochi's own counters.
package mqtt
