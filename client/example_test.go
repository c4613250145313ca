package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"

	"github.com/herald-mq/herald/client"
)

// fakeCMQ is a tiny in-memory CMQ server for the examples. It verifies every
// signature with StringToSign and Sign on the raw form it received.
type fakeCMQ struct {
	mu      sync.Mutex
	queue   []string // bodies waiting to be received
	nextID  int
	handles map[string]bool // receipt handles not yet deleted
}

func newFakeCMQ() *httptest.Server {
	f := &fakeCMQ{handles: map[string]bool{}}
	return httptest.NewServer(http.HandlerFunc(f.serve))
}

func (f *fakeCMQ) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	form := string(body)
	if r.Method == http.MethodGet {
		form = r.URL.RawQuery
	}
	ps, err := verifySignature("secretKey", r.Method, r.Host, r.URL.Path, form)
	if err != nil {
		reply(w, map[string]any{"code": 4100, "message": "(10030)authentication failed"})
		return
	}
	get := func(key string) string {
		for _, p := range ps {
			if p.Key == key {
				return p.Value
			}
		}
		return ""
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	id := strconv.Itoa(f.nextID)
	res := map[string]any{"code": 0, "message": ""}
	switch get("Action") {
	case "CreateQueue":
		res["queueId"] = "queue-" + get("queueName")
	case "SendMessage":
		f.queue = append(f.queue, get("msgBody"))
		res["msgId"] = "msg-" + id
	case "GetQueueAttributes":
		res["activeMsgNum"] = len(f.queue)
	case "ReceiveMessage":
		if len(f.queue) == 0 {
			res = map[string]any{"code": 7000, "message": "(10200)no message"}
			break
		}
		handle := "rh-" + id
		f.handles[handle] = true
		res["msgBody"], res["msgId"], res["receiptHandle"] = f.queue[0], "msg-"+id, handle
		res["enqueueTime"], res["nextVisibleTime"], res["firstDequeueTime"], res["dequeueCount"] = 1700000000, 1700000030, 1700000000, 1
		f.queue = f.queue[1:]
	case "DeleteMessage":
		delete(f.handles, get("receiptHandle"))
	case "BatchDeleteMessage":
		var failed []map[string]any
		for i := 1; get("receiptHandle."+strconv.Itoa(i)) != ""; i++ {
			h := get("receiptHandle." + strconv.Itoa(i))
			if !f.handles[h] {
				failed = append(failed, map[string]any{"code": 4430, "message": "(10260)receipt handle is invalid", "receiptHandle": h})
			}
			delete(f.handles, h)
		}
		if len(failed) > 0 {
			res = map[string]any{"code": 6010, "message": "(10150)delete message partially failed", "errorList": failed}
		}
	case "CreateTopic":
		res["topicId"] = "topic-" + get("topicName")
	case "Subscribe":
		res["subscriptionId"] = "subscription-" + get("subscriptionName")
	case "PublishMessage":
		res["msgId"] = "msg-" + id
	case "QueryQueueRoute":
		res["addr"] = []string{}
	default:
		res = map[string]any{"code": 4000, "message": "(10430)action name " + get("Action") + " is not existed"}
	}
	res["requestId"] = "req-" + id
	if crid := get("clientRequestId"); crid != "" {
		res["clientRequestId"] = crid
	}
	reply(w, res)
}

func reply(w http.ResponseWriter, res map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(res)
}

// The whole life of a message: create a queue, send, receive, delete.
func Example() {
	srv := newFakeCMQ() // a herald at e.g. http://127.0.0.1:8080 in real use
	defer srv.Close()
	ctx := context.Background()

	c, err := client.New(srv.URL, "AKIDexample", "secretKey", client.WithHTTPClient(srv.Client()))
	if err != nil {
		panic(err)
	}
	if _, err := c.CreateQueue(ctx, client.CreateQueueRequest{QueueName: "orders", VisibilityTimeout: new(60)}); err != nil {
		panic(err)
	}
	if _, err := c.SendMessage(ctx, client.SendMessageRequest{QueueName: "orders", MsgBody: "order #1"}); err != nil {
		panic(err)
	}
	msg, err := c.ReceiveMessage(ctx, client.ReceiveMessageRequest{QueueName: "orders", PollingWaitSeconds: new(10)})
	if err != nil {
		panic(err)
	}
	fmt.Printf("received %q, dequeued %d time(s)\n", msg.MsgBody, msg.DequeueCount)
	if _, err := c.DeleteMessage(ctx, client.DeleteMessageRequest{QueueName: "orders", ReceiptHandle: msg.ReceiptHandle}); err != nil {
		panic(err)
	}
	attrs, err := c.GetQueueAttributes(ctx, client.GetQueueAttributesRequest{QueueName: "orders"})
	if err != nil {
		panic(err)
	}
	fmt.Println("active messages:", attrs.ActiveMsgNum)
	// Output:
	// received "order #1", dequeued 1 time(s)
	// active messages: 0
}

// An empty queue after the long poll is code 7000, which matches ErrNoMessage.
func ExampleClient_ReceiveMessage() {
	srv := newFakeCMQ()
	defer srv.Close()
	c, err := client.New(srv.URL, "AKIDexample", "secretKey", client.WithHTTPClient(srv.Client()))
	if err != nil {
		panic(err)
	}

	_, err = c.ReceiveMessage(context.Background(), client.ReceiveMessageRequest{QueueName: "orders", PollingWaitSeconds: new(0)})
	switch {
	case errors.Is(err, client.ErrNoMessage):
		fmt.Println("queue is empty")
	case err != nil:
		panic(err)
	}
	var cmqErr *client.Error
	if errors.As(err, &cmqErr) {
		fmt.Println(cmqErr.Code, cmqErr.ModuleCode, cmqErr.Message)
	}
	// Output:
	// queue is empty
	// 7000 10200 no message
}

// A batch delete where some handles fail returns the response, naming the
// failed handles, together with the error.
func ExampleClient_BatchDeleteMessage() {
	srv := newFakeCMQ()
	defer srv.Close()
	ctx := context.Background()
	c, err := client.New(srv.URL, "AKIDexample", "secretKey", client.WithHTTPClient(srv.Client()))
	if err != nil {
		panic(err)
	}
	if _, err := c.SendMessage(ctx, client.SendMessageRequest{QueueName: "orders", MsgBody: "a"}); err != nil {
		panic(err)
	}
	msg, err := c.ReceiveMessage(ctx, client.ReceiveMessageRequest{QueueName: "orders"})
	if err != nil {
		panic(err)
	}

	res, err := c.BatchDeleteMessage(ctx, client.BatchDeleteMessageRequest{
		QueueName:      "orders",
		ReceiptHandles: []string{msg.ReceiptHandle, "expired-handle"},
	})
	if errors.Is(err, client.ErrBatchDeletePartial) {
		for _, failed := range res.ErrorList {
			fmt.Printf("not deleted: %s (code %d)\n", failed.ReceiptHandle, failed.Code)
		}
	} else if err != nil {
		panic(err)
	}
	// Output:
	// not deleted: expired-handle (code 4430)
}

// Subscribe a queue to a tag-filtered topic and publish a tagged message.
func ExampleClient_Subscribe() {
	srv := newFakeCMQ()
	defer srv.Close()
	ctx := context.Background()
	c, err := client.New(srv.URL, "AKIDexample", "secretKey", client.WithHTTPClient(srv.Client()))
	if err != nil {
		panic(err)
	}

	if _, err := c.CreateTopic(ctx, client.CreateTopicRequest{TopicName: "events", FilterType: new(client.FilterTypeTag)}); err != nil {
		panic(err)
	}
	sub, err := c.Subscribe(ctx, client.SubscribeRequest{
		TopicName:           "events",
		SubscriptionName:    "paid-orders",
		Protocol:            client.ProtocolQueue,
		Endpoint:            "orders",
		NotifyContentFormat: client.FormatSimplified,
		FilterTags:          []string{"paid"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(sub.SubscriptionID)
	if _, err := c.PublishMessage(ctx, client.PublishMessageRequest{TopicName: "events", MsgBody: "order #1", MsgTags: []string{"paid", "eu"}}); err != nil {
		panic(err)
	}
	// Output:
	// subscription-paid-orders
}

// Options choose GET requests signed with HmacSHA256, and a client request id
// is echoed back.
func ExampleNew() {
	srv := newFakeCMQ()
	defer srv.Close()
	c, err := client.New(srv.URL, "AKIDexample", "secretKey",
		client.WithHTTPClient(srv.Client()),
		client.WithMethod(http.MethodGet),
		client.WithSignatureMethod(client.HmacSHA256),
		client.WithRequestClient("billing/2.1"),
	)
	if err != nil {
		panic(err)
	}

	res, err := c.CreateQueue(context.Background(), client.CreateQueueRequest{
		QueueName: "invoices",
		Common:    client.Common{ClientRequestID: "42"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.QueueID, res.ClientRequestID)
	// Output:
	// queue-invoices 42
}

// Do calls an action the typed methods do not cover and returns its JSON.
func ExampleClient_Do() {
	srv := newFakeCMQ()
	defer srv.Close()
	c, err := client.New(srv.URL, "AKIDexample", "secretKey", client.WithHTTPClient(srv.Client()))
	if err != nil {
		panic(err)
	}

	raw, err := c.Do(context.Background(), "QueryQueueRoute", []client.Param{{Key: "queueName", Value: "orders"}})
	if err != nil {
		panic(err)
	}
	var route struct {
		Addr []string `json:"addr"`
	}
	if err := json.Unmarshal(raw, &route); err != nil {
		panic(err)
	}
	fmt.Println(len(route.Addr), "gateway addresses")

	_, err = c.Do(context.Background(), "NoSuchAction", nil)
	fmt.Println(client.IsCode(err, 4000), strings.Contains(err.Error(), "(10430)"))
	// Output:
	// 0 gateway addresses
	// true true
}

// A server verifies a request by rebuilding the string to sign from the
// parameters it received and comparing signatures.
func ExampleSign() {
	params := []client.Param{
		{Key: "Action", Value: "SendMessage"},
		{Key: "Nonce", Value: "12345"},
		{Key: "RequestClient", Value: "SDK_Python_1.3"},
		{Key: "SecretId", Value: "AKIDtest"},
		{Key: "SignatureMethod", Value: "HmacSHA1"},
		{Key: "Timestamp", Value: "1700000000"},
		{Key: "delaySeconds", Value: "0"},
		{Key: "msgBody", Value: "hello world&x=1"},
		{Key: "queueName", Value: "q1"},
	}
	src := client.StringToSign("POST", "127.0.0.1:8080", "/v2/index.php", params)
	fmt.Println(src)
	fmt.Println(client.Sign("HmacSHA1", "testSecretKey", src))
	// Output:
	// POST127.0.0.1:8080/v2/index.php?Action=SendMessage&Nonce=12345&RequestClient=SDK_Python_1.3&SecretId=AKIDtest&SignatureMethod=HmacSHA1&Timestamp=1700000000&delaySeconds=0&msgBody=hello world&x=1&queueName=q1
	// sPg7RaV//lVJpQ/WukXabNokRco=
}
