// Package delivery drives every published message to each matching
// subscription until it is delivered or given up.
//
// Two durable JetStream consumers, shared by every herald process, do all
// the work, however many subscriptions there are:
//
//   - fanout reads the message stream. For each message it starts one
//     attempt per matching subscription and acknowledges the message only
//     when every attempt has either succeeded or been handed to the retry
//     stream, so a crash at any point redelivers the message (at least once).
//     An attempt still running LeaseAfter after another one ended gets a
//     lease, a retry record of its own due after AckWait, and the message is
//     acknowledged without waiting for it: a crash then repeats only the
//     running attempts, and one slow subscription never makes the others get
//     a message twice. A lease is named after its subscription and message,
//     so that if the engine loses the acknowledgement (it writes them to disk
//     lazily) and offers the message again, the leases show it was released
//     and it is acknowledged without an attempt. Attempts handed back at Stop
//     become records due at once.
//   - retry reads due retry records. A failed attempt writes a record for
//     the next one into the retry stream as a scheduled message (JetStream
//     message schedules), so waiting retries cost neither a consumer per
//     subscription nor hours of delayed NAKs.
//
// Attempts go through a Sender that never blocks; when an endpoint is
// saturated (slow or dead) the attempt is deferred through the retry stream
// instead of waiting, so one endpoint never holds up the others.
package delivery
