package push

import (
	"crypto/md5" //nolint:gosec // MNS MessageMD5 and Content-md5 are MD5 by protocol.
	"encoding/hex"
	"strconv"
	"strings"
	"unicode/utf8"
)

// appendCMQJSON appends CMQ's JSON push body (seed 000): one line, keys in
// this order, TopicOwner a JSON number, publishTime Unix seconds.
func appendCMQJSON(dst []byte, m *Message) []byte {
	dst = append(dst, `{"TopicOwner":`...)
	dst = strconv.AppendInt(dst, m.TopicOwner, 10)
	dst = append(dst, `,"topicName":`...)
	dst = appendJSONString(dst, m.TopicName)
	dst = append(dst, `,"subscriptionName":`...)
	dst = appendJSONString(dst, m.SubscriptionName)
	dst = append(dst, `,"msgId":`...)
	dst = appendJSONString(dst, m.ID)
	dst = append(dst, `,"msgBody":`...)
	dst = appendJSONString(dst, m.Body)
	dst = append(dst, `,"publishTime":`...)
	dst = strconv.AppendInt(dst, m.PublishTime.Unix(), 10)
	return append(dst, '}')
}

const mnsNamespace = "http://mns.aliyuncs.com/doc/v1/"

// appendMNSXML appends MNS's XML Notification (wire.md §2.6): the XML
// declaration on its own line, then the document without indentation, so a
// receiver that walks child nodes meets no whitespace text. MessageTag is
// left out when the message has no tag (the MNS samples treat it as
// optional).
func appendMNSXML(dst []byte, m *Message, md5hex string) []byte {
	dst = append(dst, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Notification xmlns=\""+mnsNamespace+"\">"...)
	dst = appendXMLElem(dst, "TopicOwner", strconv.FormatInt(m.TopicOwner, 10))
	dst = appendXMLElem(dst, "TopicName", m.TopicName)
	dst = appendXMLElem(dst, "Subscriber", m.subscriber())
	dst = appendXMLElem(dst, "SubscriptionName", m.SubscriptionName)
	dst = appendXMLElem(dst, "MessageId", m.ID)
	dst = appendXMLElem(dst, "Message", m.Body)
	dst = appendXMLElem(dst, "MessageMD5", md5hex)
	if len(m.Tags) > 0 {
		dst = appendXMLElem(dst, "MessageTag", joinTags(m.Tags))
	}
	dst = appendXMLElem(dst, "PublishTime", strconv.FormatInt(m.PublishTime.UnixMilli(), 10))
	return append(dst, "</Notification>"...)
}

// appendMNSJSON appends MNS's JSON notification (wire.md §2.6): every value
// a string, PublishTime included, as in the MNS documentation.
func appendMNSJSON(dst []byte, m *Message, md5hex string) []byte {
	dst = append(dst, `{"TopicOwner":"`...)
	dst = strconv.AppendInt(dst, m.TopicOwner, 10)
	dst = append(dst, `","TopicName":`...)
	dst = appendJSONString(dst, m.TopicName)
	dst = append(dst, `,"Subscriber":`...)
	dst = appendJSONString(dst, m.subscriber())
	dst = append(dst, `,"SubscriptionName":`...)
	dst = appendJSONString(dst, m.SubscriptionName)
	dst = append(dst, `,"MessageId":`...)
	dst = appendJSONString(dst, m.ID)
	dst = append(dst, `,"Message":`...)
	dst = appendJSONString(dst, m.Body)
	dst = append(dst, `,"MessageMD5":"`...)
	dst = append(dst, md5hex...)
	dst = append(dst, '"')
	if len(m.Tags) > 0 {
		dst = append(dst, `,"MessageTag":`...)
		dst = appendJSONString(dst, joinTags(m.Tags))
	}
	dst = append(dst, `,"PublishTime":"`...)
	dst = strconv.AppendInt(dst, m.PublishTime.UnixMilli(), 10)
	return append(dst, `"}`...)
}

// joinTags joins tags as CMQ's x-cmq-message-tag shows them: "a, b".
func joinTags(tags []string) string { return strings.Join(tags, ", ") }

// md5Upper returns the upper-case hex MD5 of b, MNS's MessageMD5 form.
func md5Upper(b []byte) string {
	sum := md5.Sum(b) //nolint:gosec // protocol-mandated
	var buf [32]byte
	hex.Encode(buf[:], sum[:])
	return strings.ToUpper(string(buf[:]))
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Unlike encoding/json it does
// not escape <, > and & (receivers see the text as published); invalid UTF-8
// becomes U+FFFD, and U+2028/U+2029 are escaped for JavaScript receivers.
func appendJSONString[T string | []byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := decodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendXMLElem appends <name>escaped text</name>.
func appendXMLElem[T string | []byte](dst []byte, name string, text T) []byte {
	dst = append(dst, '<')
	dst = append(dst, name...)
	dst = append(dst, '>')
	dst = appendXMLText(dst, text)
	dst = append(dst, '<', '/')
	dst = append(dst, name...)
	return append(dst, '>')
}

// appendXMLText appends s escaped as XML character data. \r is escaped so
// that parsers' line-end normalisation keeps it; characters XML 1.0 cannot
// carry at all (most controls, invalid UTF-8, U+FFFE, U+FFFF) become U+FFFD.
func appendXMLText[T string | []byte](dst []byte, s T) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		var esc string
		size := 1
		if c < utf8.RuneSelf {
			switch {
			case c == '&':
				esc = "&amp;"
			case c == '<':
				esc = "&lt;"
			case c == '>':
				esc = "&gt;"
			case c == '"':
				esc = "&quot;"
			case c == '\'':
				esc = "&apos;"
			case c == '\r':
				esc = "&#xD;"
			case c < 0x20 && c != '\n' && c != '\t':
				esc = "\uFFFD"
			default:
				i++
				continue
			}
		} else {
			var r rune
			r, size = decodeRune(s[i:])
			if (r == utf8.RuneError && size == 1) || r == 0xFFFE || r == 0xFFFF {
				esc = "\uFFFD"
			} else {
				i += size
				continue
			}
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, esc...)
		i += size
		start = i
	}
	return append(dst, s[start:]...)
}

func decodeRune[T string | []byte](s T) (rune, int) {
	switch v := any(s).(type) {
	case string:
		return utf8.DecodeRuneInString(v)
	case []byte:
		return utf8.DecodeRune(v)
	}
	panic("unreachable")
}
