// Package topic keeps topics and their subscriptions, decides which
// subscriptions a message goes to (tag filters and binding-key routing), and
// publishes messages into the engine.
//
// Topics and subscriptions are JSON records in two JetStream key-value
// buckets, keyed "<appid>.<topic>" and "<appid>.<topic>.<subscription>".
// Every process keeps an index of both, fed by a watch, so that publish and
// fan-out never read the buckets; a write waits until the index has seen it,
// so a process reads its own writes.
package topic
