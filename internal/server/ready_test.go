package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadyzAnswersTheFirstFailure(t *testing.T) {
	t.Parallel()
	var engineErr, queueErr error
	h := readyHandler(
		func(context.Context) error { return engineErr },
		ready(func() error { return queueErr }),
	)
	get := func() (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		body, err := io.ReadAll(rec.Result().Body)
		require.NoError(t, err)
		require.Equal(t, "text/plain; charset=utf-8", rec.Header().Get("Content-Type"))
		return rec.Code, string(body)
	}
	code, body := get()
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok\n", body)

	queueErr = errors.New("queue: the service is not running")
	code, body = get()
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "queue: the service is not running\n", body)

	engineErr = errors.New("engine not ready: the disk is full")
	code, body = get()
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "engine not ready: the disk is full\n", body)
}
