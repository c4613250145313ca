package delivery

import (
	"context"
	"errors"
	"time"

	"github.com/herald-mq/herald/internal/push"
	"github.com/herald-mq/herald/internal/topic"
)

// PushSender sends HTTP attempts through a push.Dispatcher: per-endpoint
// queues and concurrency, one keep-alive pool.
type PushSender struct {
	// Dispatcher is started and stopped by the owner of the PushSender.
	Dispatcher *push.Dispatcher
}

// NewPushSender returns a sender over a new dispatcher for p.
func NewPushSender(p *push.Pusher, cfg push.DispatcherConfig) (*PushSender, error) {
	d, err := push.NewDispatcher(p, cfg, func(j *push.Job, o push.Outcome) {
		j.Ref.(func(Outcome))(outcome(o))
	})
	if err != nil {
		return nil, err
	}
	return &PushSender{Dispatcher: d}, nil
}

// maxSubmitWait is how long TrySend waits for room at an endpoint that is
// busy but quick: the fan-out then runs at the endpoint's pace instead of
// turning messages away, and an endpoint slower than this is refused at once.
const maxSubmitWait = 20 * time.Millisecond

// TrySend implements Sender.
func (s *PushSender) TrySend(a Attempt, done func(Outcome)) bool {
	sub := a.Sub
	return s.Dispatcher.Submit(context.Background(), &push.Job{
		Message: push.Message{
			TopicOwner: sub.AppID, TopicName: sub.TopicName, SubscriptionName: sub.Name,
			ID: a.MsgID, Body: a.Body, Tags: a.Tags, PublishTime: a.Published,
		},
		Target: push.Target{
			URL: sub.Endpoint, Format: push.Format(sub.NotifyContentFormat),
			Dialect: push.Dialect(sub.Dialect), WebhookSecrets: sub.WebhookSecrets,
		},
		Attempt: push.Attempt{Number: a.Number, DeliveryID: a.DeliveryID},
		Ref:     done,
	}, maxSubmitWait)
}

// Backoff implements Backoffer with the dispatcher's estimate for the
// subscription's endpoint.
func (s *PushSender) Backoff(sub *topic.Subscription) time.Duration {
	return s.Dispatcher.Backoff(sub.Endpoint)
}

func outcome(o push.Outcome) Outcome {
	out := Outcome{Delivered: o.Delivered(), SignatureRejected: o.SignatureRejected, Status: o.Code, Err: o.Err}
	switch o.Status {
	case push.StatusAbandoned:
		out.Err = errors.Join(ErrHandBack, o.Err)
	case push.StatusDeferred:
		out.Err = errors.Join(ErrDeferred, o.Err)
	}
	return out
}
