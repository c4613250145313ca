package mns

import (
	"encoding/xml"
	"testing"

	"github.com/stretchr/testify/require"
)

// The hand-written encoders write what xml.Marshal writes.
func TestAppendersMatchMarshal(t *testing.T) {
	t.Parallel()
	for _, body := range []string{"plain", `<a href="x">&'</a>`, "tab\tline\nret\r", "\x00\x01\x7f", "héllo \u2028 \xff\xfe", ""} {
		rm := receivedMessage{NS: Namespace, MessageID: "1", ReceiptHandle: "h-_1", MessageBodyMD5: "AB", MessageBody: body,
			EnqueueTime: 1, NextVisibleTime: 2, FirstDequeueTime: 3, DequeueCount: 4, Priority: 5}
		peek := rm
		peek.ReceiptHandle, peek.NextVisibleTime, peek.NS = "", 0, ""
		for _, v := range []appender{
			&rm,
			receivedMessages{NS: Namespace, Messages: []receivedMessage{rm, peek}},
			sentMessage{NS: Namespace, MessageID: body, MessageBodyMD5: "AB"},
			sentMessages{NS: Namespace, Messages: []sentMessage{{MessageID: "1", MessageBodyMD5: "AB"}, {ErrorCode: "InvalidArgument", ErrorMessage: body}}},
		} {
			want, err := xml.Marshal(v)
			require.NoError(t, err)
			require.Equal(t, string(want), string(v.appendXML(nil)), "%q", body)
		}
	}
}
