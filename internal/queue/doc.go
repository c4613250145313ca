// Package queue implements CMQ queues on JetStream: send (with delay), long-poll
// receive, visibility timeout, delete by receipt handle, rewind, dead-letter
// policies, and the queue side of protocol=queue subscriptions.
//
// Every queue is a JetStream stream of its own with one durable pull
// consumer. The stream keeps messages under limits retention with MaxAge the
// queue's msgRetentionSeconds. (JetStream's own MaxMsgs limit cannot be used
// for maxMsgHeapNum: discard-new streams cannot hold message schedules, so
// the heap is counted from stream state, see heap.go.) A receive is a fetch from
// the consumer; the consumer's AckWait is the visibility timeout, and its
// delivery count is dequeueCount (raised after a crash from receipt records,
// below). A receipt handle carries what is needed to acknowledge the
// delivery from any herald process (stream and consumer sequence, delivery
// count, next visible time), sealed with an HMAC under a per-queue key; DeleteMessage acknowledges it. Acknowledged messages stay in
// the stream for rewindSeconds (RewindQueue resets the consumer to a time) and
// are then purged by a janitor. Because the engine writes consumer state
// after answering, every delivery and every delete is also stored as a
// receipt record in the stream before herald answers (record.go), so that
// neither undoes itself when the engine is killed.
//
// Delayed messages are JetStream message schedules: a holder message on a
// subject of its own that the engine copies onto the queue's message subject
// when due. Queue settings live in a key-value bucket that every process
// follows, so any number of processes serve the same queues.
package queue
