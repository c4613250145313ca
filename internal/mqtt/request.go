package mqtt

import (
	"cmp"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mochi-mqtt/server/v2/packets"
)

// publishRequest is what a gateway request asks to publish, less the
// payload and the identity.
type publishRequest struct {
	topic    string
	qos      byte
	retain   bool
	clientID string // "" means the default
	username string
	props    packets.Properties
}

const topicsPrefix = "/topics/"

// queryParams are the gateway's parameters, matched case-insensitively. Each
// may appear once; unknown parameters are ignored.
var queryParams = []struct {
	name string // as the documentation spells it
	set  func(req *publishRequest, value string) *RequestError
}{
	{"qos", func(req *publishRequest, v string) *RequestError {
		if len(v) != 1 || v[0] < '0' || v[0] > '2' {
			return &RequestError{Param: "qos", Reason: "must be 0, 1 or 2", Err: ErrBadQoS}
		}
		req.qos = v[0] - '0'
		return nil
	}},
	{"retained", func(req *publishRequest, v string) *RequestError {
		switch {
		case strings.EqualFold(v, "true"):
			req.retain = true
		case strings.EqualFold(v, "false"):
			req.retain = false
		default:
			return &RequestError{Param: "retained", Reason: "must be true or false", Err: ErrBadRetained}
		}
		return nil
	}},
	{"client_id", func(req *publishRequest, v string) *RequestError {
		req.clientID = v
		return stringProblem("client_id", v)
	}},
	{"username", func(req *publishRequest, v string) *RequestError {
		req.username = v
		return stringProblem("username", v)
	}},
	{"ResponseTopic", func(req *publishRequest, v string) *RequestError {
		if p := topicProblem(v); p != "" {
			return badParam("ResponseTopic", p)
		}
		req.props.ResponseTopic = v
		return nil
	}},
	{"CorrelationData", func(req *publishRequest, v string) *RequestError {
		if len(v) > 65535 {
			return badParam("CorrelationData", "longer than 65535 bytes")
		}
		req.props.CorrelationData = []byte(v)
		return nil
	}},
	{"ContentType", func(req *publishRequest, v string) *RequestError {
		req.props.ContentType = v
		return stringProblem("ContentType", v)
	}},
	{"PayloadFormatIndicator", func(req *publishRequest, v string) *RequestError {
		if v != "0" && v != "1" {
			return badParam("PayloadFormatIndicator", "must be 0 or 1")
		}
		req.props.PayloadFormat = v[0] - '0'
		req.props.PayloadFormatFlag = true
		return nil
	}},
	{"MessageExpiryInterval", func(req *publishRequest, v string) *RequestError {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || !allDigits(v) {
			return badParam("MessageExpiryInterval", "must be 0 to 4294967295 seconds")
		}
		req.props.MessageExpiryInterval = uint32(n)
		return nil
	}},
}

// userProp collects UserProp.N.Key and UserProp.N.Value.
type userProp struct {
	n                int
	key, value       string
	hasKey, hasValue bool
}

// parseRequest parses the escaped URL path and the raw query of a gateway
// request. It is the hot path of every publish and sees outside input only.
func parseRequest(escapedPath, rawQuery string) (publishRequest, error) {
	req := publishRequest{qos: 1}
	rest, ok := strings.CutPrefix(escapedPath, topicsPrefix)
	if !ok {
		return req, ErrBadPath
	}
	topic, err := url.PathUnescape(rest)
	if err != nil {
		return req, ErrBadPath
	}
	if p := topicProblem(topic); p != "" {
		return req, &RequestError{Param: "topic", Reason: p, Err: ErrBadTopic}
	}
	req.topic = topic

	var seen uint32 // a bit per queryParams entry
	var props []userProp
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		if pair == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			return req, badParam("query", "malformed URL escape")
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return req, badParam(key, "malformed URL escape")
		}
		if props, ok, err = addUserProp(props, key, value); err != nil {
			return req, err
		} else if ok {
			continue
		}
		for i, p := range queryParams {
			if !strings.EqualFold(key, p.name) {
				continue
			}
			if seen&(1<<i) != 0 {
				return req, badParam(p.name, "given more than once")
			}
			seen |= 1 << i
			if rerr := p.set(&req, value); rerr != nil {
				return req, rerr
			}
			break
		}
	}
	if len(props) > 0 {
		slices.SortFunc(props, func(a, b userProp) int { return cmp.Compare(a.n, b.n) })
		req.props.User = make([]packets.UserProperty, len(props))
		for i, p := range props {
			if !p.hasKey {
				return req, badParam("UserProp."+strconv.Itoa(p.n)+".Key", "missing")
			}
			req.props.User[i] = packets.UserProperty{Key: p.key, Val: p.value}
		}
	}
	return req, nil
}

// addUserProp records key=value if key is UserProp.N.Key or UserProp.N.Value
// (any case); ok reports whether it was one.
func addUserProp(props []userProp, key, value string) (_ []userProp, ok bool, _ error) {
	const prefix = "userprop."
	if len(key) <= len(prefix) || !strings.EqualFold(key[:len(prefix)], prefix) {
		return props, false, nil
	}
	num, field, found := strings.Cut(key[len(prefix):], ".")
	isKey, isValue := strings.EqualFold(field, "key"), strings.EqualFold(field, "value")
	if !found || (!isKey && !isValue) {
		return props, false, nil
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || !allDigits(num) {
		return props, true, badParam(key, "N must be a positive number")
	}
	name := "UserProp." + num + ".Value"
	if isKey {
		name = "UserProp." + num + ".Key"
	}
	if rerr := stringProblem(name, value); rerr != nil {
		return props, true, rerr
	}
	i := slices.IndexFunc(props, func(p userProp) bool { return p.n == n })
	if i < 0 {
		props = append(props, userProp{n: n})
		i = len(props) - 1
	}
	p := &props[i]
	if (isKey && p.hasKey) || (isValue && p.hasValue) {
		return props, true, badParam(name, "given more than once")
	}
	if isKey {
		p.key, p.hasKey = value, true
	} else {
		p.value, p.hasValue = value, true
	}
	return props, true, nil
}

// stringProblem checks an MQTT UTF-8 string.
func stringProblem(param, v string) *RequestError {
	switch {
	case len(v) > 65535:
		return badParam(param, "longer than 65535 bytes")
	case !utf8.ValidString(v):
		return badParam(param, "not valid UTF-8")
	case strings.IndexByte(v, 0) >= 0:
		return badParam(param, "contains U+0000")
	}
	return nil
}

func allDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
