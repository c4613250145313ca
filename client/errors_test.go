package client_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/client"
)

func TestErrorEnvelope(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		fixture  string
		want     *client.Error
		is       []error
		isNot    []error
		wantText string
	}{
		{
			name:     "queue not existed",
			fixture:  `{"code":4440,"message":"(10100)queue is not existed, or deleted","requestId":"req-9"}`,
			want:     &client.Error{Code: 4440, ModuleCode: 10100, Message: "queue is not existed, or deleted", RequestID: "req-9"},
			is:       []error{client.ErrQueueNotExist},
			isNot:    []error{client.ErrTopicNotExist, client.ErrNoMessage},
			wantText: "cmq: code 4440 (10100): queue is not existed, or deleted [requestId req-9]",
		},
		{
			name:    "queue not existed with code 4000",
			fixture: `{"code":4000,"message":"(10100)queue is not existed, or deleted","requestId":"r"}`,
			want:    &client.Error{Code: 4000, ModuleCode: 10100, Message: "queue is not existed, or deleted", RequestID: "r"},
			is:      []error{client.ErrQueueNotExist},
		},
		{
			name:     "no message",
			fixture:  `{"code":7000,"message":"(10200)no message","requestId":"r"}`,
			want:     &client.Error{Code: 7000, ModuleCode: 10200, Message: "no message", RequestID: "r"},
			is:       []error{client.ErrNoMessage},
			isNot:    []error{client.ErrQueueNotExist},
			wantText: "cmq: code 7000 (10200): no message [requestId r]",
		},
		{
			name:     "message without module code",
			fixture:  `{"code":6000,"message":"server internal error","requestId":""}`,
			want:     &client.Error{Code: 6000, Message: "server internal error"},
			wantText: "cmq: code 6000: server internal error",
		},
		{
			name:    "parenthesis that is not a module code",
			fixture: `{"code":4000,"message":"(bad)text","requestId":"r"}`,
			want:    &client.Error{Code: 4000, Message: "(bad)text", RequestID: "r"},
		},
		{
			name:    "auth failed",
			fixture: `{"code":4100,"message":"(10030)authentication failed","requestId":"r"}`,
			want:    &client.Error{Code: 4100, ModuleCode: 10030, Message: "authentication failed", RequestID: "r"},
			is:      []error{client.ErrAuthFailed},
		},
		{
			name:     "topic exists",
			fixture:  `{"code":4460,"message":"(10550)topic is already existed","requestId":"r"}`,
			want:     &client.Error{Code: 4460, ModuleCode: 10550, Message: "topic is already existed", RequestID: "r"},
			is:       []error{client.ErrTopicExists},
			isNot:    []error{client.ErrQueueExists},
			wantText: "cmq: code 4460 (10550): topic is already existed [requestId r]",
		},
		{
			name:    "queue exists",
			fixture: `{"code":4460,"message":"(10210)queue is already existed,case insensitive","requestId":"r"}`,
			want:    &client.Error{Code: 4460, ModuleCode: 10210, Message: "queue is already existed,case insensitive", RequestID: "r"},
			is:      []error{client.ErrQueueExists},
			isNot:   []error{client.ErrTopicExists},
		},
		{
			name:    "topic not existed",
			fixture: `{"code":4440,"message":"(10600)topic is not existed, or deleted","requestId":"r"}`,
			want:    &client.Error{Code: 4440, ModuleCode: 10600, Message: "topic is not existed, or deleted", RequestID: "r"},
			is:      []error{client.ErrTopicNotExist},
			isNot:   []error{client.ErrQueueNotExist},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := newStubClient(t, http.StatusOK, tt.fixture)
			res, err := c.ReceiveMessage(t.Context(), client.ReceiveMessageRequest{QueueName: "q", PollingWaitSeconds: new(0)})
			require.Nil(t, res)
			var got *client.Error
			require.ErrorAs(t, err, &got)
			require.Equal(t, tt.want, got)
			require.True(t, client.IsCode(err, tt.want.Code))
			require.False(t, client.IsCode(err, tt.want.Code+1))
			for _, target := range tt.is {
				require.ErrorIs(t, err, target)
			}
			for _, target := range tt.isNot {
				require.NotErrorIs(t, err, target)
			}
			if tt.wantText != "" {
				require.EqualError(t, err, tt.wantText)
			}
		})
	}
}

func TestErrorIsNeedsACode(t *testing.T) {
	t.Parallel()
	err := &client.Error{Code: 4000}
	require.NotErrorIs(t, err, &client.Error{})
	require.NotErrorIs(t, err, errors.New("other"))
	require.False(t, client.IsCode(errors.New("x"), 0))
}

func TestBatchDeletePartialFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		fixture string
		code    int
		target  error
	}{
		{
			name: "partial",
			fixture: `{"code":6010,"message":"(10150)delete message partially failed","requestId":"req-1",` +
				`"errorList":[{"code":4430,"message":"(10260)receipt handle is invalid","receiptHandle":"h2"}]}`,
			code: 6010, target: client.ErrBatchDeletePartial,
		},
		{
			name: "all failed, yougg spelling of Message",
			fixture: `{"code":6020,"message":"(10290)batch delete failed","requestId":"req-1",` +
				`"errorList":[{"code":4430,"Message":"(10260)receipt handle is invalid","receiptHandle":"h2"}]}`,
			code: 6020, target: client.ErrBatchDeleteFailed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := newStubClient(t, http.StatusOK, tt.fixture)
			res, err := c.BatchDeleteMessage(t.Context(), client.BatchDeleteMessageRequest{QueueName: "q", ReceiptHandles: []string{"h1", "h2"}})
			require.ErrorIs(t, err, tt.target)
			require.True(t, client.IsCode(err, tt.code))
			require.NotNil(t, res)
			require.Equal(t, "req-1", res.RequestID)
			require.Equal(t, []client.BatchDeleteError{{Code: 4430, Message: "(10260)receipt handle is invalid", ReceiptHandle: "h2"}}, res.ErrorList)
		})
	}
}

func TestBatchDeleteOtherErrorHasNoResponse(t *testing.T) {
	t.Parallel()
	c, _ := newStubClient(t, http.StatusOK, `{"code":4440,"message":"(10100)queue is not existed, or deleted","requestId":"r"}`)
	res, err := c.BatchDeleteMessage(t.Context(), client.BatchDeleteMessageRequest{QueueName: "q", ReceiptHandles: []string{"h1"}})
	require.Nil(t, res)
	require.ErrorIs(t, err, client.ErrQueueNotExist)
}

func TestDoReturnsBodyWithError(t *testing.T) {
	t.Parallel()
	const body = `{"code":4000,"message":"(10430)action name X is not existed","requestId":"r"}`
	c, _ := newStubClient(t, http.StatusOK, body)
	raw, err := c.Do(t.Context(), "X", nil)
	require.True(t, client.IsCode(err, 4000))
	require.JSONEq(t, body, string(raw))
}

func TestTransportErrors(t *testing.T) {
	t.Parallel()
	t.Run("status", func(t *testing.T) {
		t.Parallel()
		c, _ := newStubClient(t, http.StatusBadGateway, "upstream down")
		_, err := c.DeleteQueue(t.Context(), client.DeleteQueueRequest{QueueName: "q"})
		var te *client.TransportError
		require.ErrorAs(t, err, &te)
		require.Equal(t, &client.TransportError{Action: "DeleteQueue", StatusCode: http.StatusBadGateway, Body: "upstream down"}, te)
		require.EqualError(t, err, `cmq DeleteQueue: HTTP status 502: "upstream down"`)
		var ce *client.Error
		require.NotErrorAs(t, err, &ce)
	})
	t.Run("status with a CMQ body is still a transport error", func(t *testing.T) {
		t.Parallel()
		c, _ := newStubClient(t, http.StatusInternalServerError, `{"code":6000,"message":"x","requestId":"r"}`)
		_, err := c.DeleteQueue(t.Context(), client.DeleteQueueRequest{QueueName: "q"})
		var te *client.TransportError
		require.ErrorAs(t, err, &te)
		require.Equal(t, http.StatusInternalServerError, te.StatusCode)
		require.False(t, client.IsCode(err, 6000))
	})
	t.Run("network", func(t *testing.T) {
		t.Parallel()
		c, st := newStubClient(t, http.StatusOK, okEnvelope)
		st.err = errNetwork
		_, err := c.DeleteQueue(t.Context(), client.DeleteQueueRequest{QueueName: "q"})
		var te *client.TransportError
		require.ErrorAs(t, err, &te)
		require.Equal(t, 0, te.StatusCode)
		require.ErrorIs(t, err, errNetwork)
	})
	t.Run("canceled context", func(t *testing.T) {
		t.Parallel()
		c, _ := newStubClient(t, http.StatusOK, okEnvelope)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := c.DeleteQueue(ctx, client.DeleteQueueRequest{QueueName: "q"})
		require.ErrorIs(t, err, context.Canceled)
	})
}

func TestMalformedResponses(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"not JSON":       "<html>",
		"no code":        `{"message":"","requestId":"r"}`,
		"wrong type":     `{"code":0,"message":"","requestId":"r","msgId":5}`,
		"code as string": `{"code":"0","message":"","requestId":"r"}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, _ := newStubClient(t, http.StatusOK, body)
			res, err := c.SendMessage(t.Context(), client.SendMessageRequest{QueueName: "q", MsgBody: "x"})
			require.Nil(t, res)
			require.ErrorIs(t, err, client.ErrMalformedResponse)
		})
	}
}

// TestTimeoutExtendsByPollTime checks the deadline each request carries.
func TestTimeoutExtendsByPollTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []client.Option
		call func(context.Context, *client.Client) error
		want time.Duration
	}{
		{
			name: "plain action", opts: []client.Option{client.WithTimeout(2 * time.Second)},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.SendMessage(ctx, client.SendMessageRequest{QueueName: "q", MsgBody: "x"})
				return err
			},
			want: 2 * time.Second,
		},
		{
			name: "CreateQueue pollingWaitSeconds is an attribute", opts: []client.Option{client.WithTimeout(2 * time.Second)},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.CreateQueue(ctx, client.CreateQueueRequest{QueueName: "q", PollingWaitSeconds: new(30)})
				return err
			},
			want: 2 * time.Second,
		},
		{
			name: "receive with poll", opts: []client.Option{client.WithTimeout(2 * time.Second)},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.ReceiveMessage(ctx, client.ReceiveMessageRequest{QueueName: "q", PollingWaitSeconds: new(20)})
				return err
			},
			want: 22 * time.Second,
		},
		{
			name: "receive with the queue's poll time", opts: []client.Option{client.WithTimeout(2 * time.Second)},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.ReceiveMessage(ctx, client.ReceiveMessageRequest{QueueName: "q"})
				return err
			},
			want: 32 * time.Second,
		},
		{
			name: "batch receive", opts: []client.Option{client.WithTimeout(2 * time.Second)},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.BatchReceiveMessage(ctx, client.BatchReceiveMessageRequest{QueueName: "q", NumOfMsg: 1, PollingWaitSeconds: new(10)})
				return err
			},
			want: 12 * time.Second,
		},
		{
			name: "receive through Do", opts: []client.Option{client.WithTimeout(2 * time.Second)},
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.Do(ctx, "ReceiveMessage", []client.Param{{Key: "queueName", Value: "q"}, {Key: "pollingWaitSeconds", Value: "5"}})
				return err
			},
			want: 7 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, st := newStubClient(t, http.StatusOK, okEnvelope, tt.opts...)
			start := time.Now()
			require.NoError(t, tt.call(t.Context(), c))
			deadline := st.last().deadline
			require.False(t, deadline.IsZero())
			require.WithinDuration(t, start.Add(tt.want), deadline, 500*time.Millisecond)
		})
	}
}

// TestHTTPClientTimeoutExtendsByPollTime checks that a caller's
// http.Client.Timeout does not cut a long poll short.
func TestHTTPClientTimeoutExtendsByPollTime(t *testing.T) {
	t.Parallel()
	st := &stub{t: t, status: http.StatusOK, body: okEnvelope}
	hc := &http.Client{Transport: st, Timeout: time.Second}
	c, err := client.New("http://"+testHost, testSecretID, testSecretKey, client.WithHTTPClient(hc), client.WithTimeout(0))
	require.NoError(t, err)
	start := time.Now()
	_, err = c.ReceiveMessage(t.Context(), client.ReceiveMessageRequest{QueueName: "q", PollingWaitSeconds: new(20)})
	require.NoError(t, err)
	require.WithinDuration(t, start.Add(21*time.Second), st.last().deadline, 500*time.Millisecond)
	require.Equal(t, time.Second, hc.Timeout, "the caller's client is not modified")

	_, err = c.DeleteQueue(t.Context(), client.DeleteQueueRequest{QueueName: "q"})
	require.NoError(t, err)
	require.WithinDuration(t, start.Add(time.Second), st.last().deadline, 500*time.Millisecond)
}
