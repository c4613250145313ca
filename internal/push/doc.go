// Package push delivers one message to one HTTP endpoint, the way Tencent
// CMQ and Alibaba MNS push topic messages, so that receivers written for
// those services accept herald's pushes unchanged.
//
// The parts:
//
//   - Message, Target and Attempt describe a delivery; Format and Dialect
//     pick the wire form (CMQ JSON or SIMPLIFIED; MNS XML, JSON or
//     SIMPLIFIED, RSA-signed with a key from package mnssign).
//   - Pusher makes one attempt and returns a typed Outcome: delivered, or
//     failed with the status code or error (and whether the receiver rejected
//     the signature or timed out), or abandoned because the caller stopped.
//   - package retry holds the retry policies (BACKOFF_RETRY and
//     EXPONENTIAL_DECAY_RETRY) the caller applies to failed Outcomes.
//   - Dispatcher runs attempts with a bounded queue and bounded concurrency
//     per endpoint (scheme, host and port), so a dead or hanging endpoint
//     never slows the others; a stalled endpoint's waiting jobs are handed
//     back (StatusDeferred) and Backoff says when to offer a refused job
//     again.
//   - The Pusher's dialer refuses loopback, private and other internal
//     addresses at dial time, after name resolution (ErrForbiddenAddress),
//     unless Config.AllowPrivate is set; ValidateEndpoint checks an endpoint
//     URL when a subscription is made.
//   - Any target may also carry Standard Webhooks secrets
//     (standardwebhooks.com): webhook-id, webhook-timestamp and
//     webhook-signature headers.
//
// Header names are sent exactly as the receivers' verifiers look them up:
// x-cmq-* and x-mns-* in lower case, "Content-md5" as MNS spells it. The
// header map is assigned directly (never Header.Set, which canonicalises),
// and the transport speaks HTTP/1.1 only, because HTTP/2 would lower-case
// every name and break the case-sensitive MNS sample verifiers.
package push
