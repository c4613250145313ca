package cmq_test

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/api/cmq"
	"github.com/herald-mq/herald/internal/engine"
	"github.com/herald-mq/herald/internal/engine/enginetest"
)

// fakeHealth is an engine whose disk is full when told so.
type fakeHealth struct {
	full atomic.Bool
}

func (f *fakeHealth) Full() bool { return f.full.Load() }

func (f *fakeHealth) Classify(err error) error { return engine.Classify(err, f.full.Load()) }

// While the engine's disk is full, the actions that store refuse at once
// with 6000/10800 and the others go on; once space is back they succeed.
func TestFullDiskRefusesWritesWithTheStorageError(t *testing.T) {
	t.Parallel()
	health := &fakeHealth{}
	a := newAPIWith(t, enginetest.New(t), true, func(d *cmq.Deps) { d.Engine = health })
	a.ok("CreateTopic", "topicName", "t")
	a.ok("Subscribe", "topicName", "t", "subscriptionName", "s", "protocol", "http", "endpoint", "http://e.com")
	a.ok("CreateQueue", "queueName", "q")
	a.ok("SendMessage", "queueName", "q", "msgBody", "before")

	health.full.Store(true)
	out := a.fails(6000, 10800, "PublishMessage", "topicName", "t", "msgBody", "x")
	require.Equal(t, "(10800)insufficient storage: the engine's disk is full, retry once space is freed", out["message"])
	a.fails(6000, 10800, "SendMessage", "queueName", "q", "msgBody", "x")
	a.fails(6000, 10800, "BatchPublishMessage", "topicName", "t", "msgBody.0", "x")
	a.fails(6000, 10800, "CreateTopic", "topicName", "u")
	a.fails(6000, 10800, "CreateQueue", "queueName", "r")
	// Reading and draining go on.
	a.ok("ListTopic")
	a.ok("GetQueueAttributes", "queueName", "q")
	got := a.ok("ReceiveMessage", "queueName", "q", "pollingWaitSeconds", "0")
	a.ok("DeleteMessage", "queueName", "q", "receiptHandle", got["receiptHandle"].(string))

	health.full.Store(false)
	a.ok("PublishMessage", "topicName", "t", "msgBody", "after")
	a.ok("SendMessage", "queueName", "q", "msgBody", "after")
}
