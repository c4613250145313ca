package server

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWithMNS(t *testing.T) {
	t.Parallel()
	named := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(name)) })
	}
	h := withMNS(named("mns"), named("cmq"))
	for _, tc := range []struct {
		header map[string]string
		want   string
	}{
		{map[string]string{"x-mns-version": "2015-06-06"}, "mns"},
		{map[string]string{"X-MNS-VERSION": ""}, "mns"},
		{map[string]string{"x-mns-date": "now"}, "cmq"},
		{nil, "cmq"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/queues", nil)
		for k, v := range tc.header {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		require.Equal(t, tc.want, w.Body.String(), "%v", tc.header)
	}
}
