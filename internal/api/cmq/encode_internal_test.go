package cmq

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// The responses that write their own JSON write what encoding/json would.
func TestAppendFieldsIsJSONMarshal(t *testing.T) {
	t.Parallel()
	for _, resp := range []fieldsAppender{
		msgIDItem{"0123456789ABCDEF0123456789ABCDEF"},
		msgIDItem{`odd "<id>" & \ é ` + "\x01\u2028\xff"},
		msgList([]string{"A", "B", "C"}),
		msgList([]string{}),
		msgListResponse{},
	} {
		want, err := json.Marshal(resp)
		require.NoError(t, err)
		got := append([]byte{'{'}, resp.appendFields(nil)...)
		require.Equal(t, string(want), string(append(got, '}')))
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", `"quoted"`, "<&>", "\\", "é", "\u2028", "\xff\xfe", "\x00\x1f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		require.Equal(t, string(want), string(appendJSONString(nil, s)))
	})
}
