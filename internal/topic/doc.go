// Package topic keeps topics and their subscriptions, decides which
// subscriptions a message goes to (tag filters and binding-key routing), and
// publishes messages into the engine.
//
// Topics and subscriptions are JSON records in two JetStream key-value
// buckets, keyed "<appid>.<topic>" and "<appid>.<topic>.<subscription>".
// Every process keeps an index of both, fed by a watch, so that publish and
// fan-out never read the buckets; a write waits until the index has seen it,
// so a process reads its own writes.
//
// Messages are stored in one stream, a subject per topic. A publish of
// several messages is one JetStream atomic batch (all stored or none) when
// that stream is replicated; on a single-replica stream JetStream's batches
// cost far more than they save, and each message is acknowledged on its own
// (see AtomicMode).
package topic
