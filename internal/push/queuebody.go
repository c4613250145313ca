package push

// QueueNotification is what an MNS queue endpoint (a subscription's
// acs:mns:…:queues/… endpoint) receives for m: the XML or JSON notification
// document as an HTTP endpoint would get it, or for FormatSimplified the
// body itself (wire.md §2.6). The empty Format is XML, MNS's default.
func QueueNotification(m *Message, f Format) []byte {
	switch f {
	case FormatSimplified:
		return m.Body
	case FormatJSON:
		return appendMNSJSON(make([]byte, 0, len(m.Body)+256), m, md5Upper(m.Body))
	default:
		return appendMNSXML(make([]byte, 0, len(m.Body)+320), m, md5Upper(m.Body))
	}
}
