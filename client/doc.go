// Package client is a Go client for the Tencent CMQ legacy Action API
// (POST or GET /v2/index.php) as served by herald.
//
// Every queue, topic and subscription action has a typed method that takes
// ctx first and a request struct, and returns a typed response:
//
//	c, err := client.New("http://127.0.0.1:8080", "AKIDexample", "secret")
//	res, err := c.SendMessage(ctx, client.SendMessageRequest{QueueName: "orders", MsgBody: "hello"})
//
// Optional numeric parameters are pointers and are sent only when non-nil;
// write them with Go's new(expr), e.g. DelaySeconds: new(30). Optional string
// parameters are sent only when non-empty, and repeated parameters (msgBody.n,
// msgTag.n, receiptHandle.n, filterTag.n, bindingKey.n) are numbered from 1.
// Every request embeds Common, which carries clientRequestId and extra
// parameters for actions herald extends; Client.Do calls any action by name.
//
// A response whose code is not 0 is returned as *Error, which carries the CMQ
// code, the module code parsed from the message and the request id; compare it
// with errors.Is against the Err* values or use IsCode. A response with an HTTP
// status other than 200, or a request that never got one, is a
// *TransportError.
//
// Param, StringToSign and Sign implement the request signature exactly as the
// SDKs do, so that a server can verify with the same code (AppendStringToSign
// and SignBytes do the same into a buffer the caller keeps).
package client
