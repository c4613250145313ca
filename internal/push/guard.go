package push

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unicode"
)

// ErrForbiddenAddress is the cause of a push refused because the endpoint's
// address is loopback, private or otherwise internal.
var ErrForbiddenAddress = errors.New("push: endpoint address is not allowed")

// ForbiddenAddressError names the refused address. It matches
// ErrForbiddenAddress with errors.Is.
type ForbiddenAddressError struct {
	// Addr is the resolved address the dial was refused for.
	Addr netip.Addr
}

// Error implements error.
func (e *ForbiddenAddressError) Error() string {
	return fmt.Sprintf("push: endpoint address %s is not allowed (loopback, private or reserved)", e.Addr)
}

// Unwrap makes errors.Is(err, ErrForbiddenAddress) hold.
func (e *ForbiddenAddressError) Unwrap() error { return ErrForbiddenAddress }

// guardControl is a net.Dialer Control hook: it sees the address after name
// resolution, just before connect, so DNS rebinding and names that resolve to
// internal addresses are caught as well as literal IPs.
func guardControl(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable dial address %q", ErrForbiddenAddress, address)
	}
	if ip := ap.Addr(); Forbidden(ip) {
		return &ForbiddenAddressError{Addr: ip}
	}
	return nil
}

var forbiddenPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated), ::, ::1
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("3fff::/20"),       // documentation
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
}

var (
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
	sixTo = netip.MustParsePrefix("2002::/16")
)

// Forbidden reports whether pushes to ip are refused by default: loopback,
// private (RFC 1918, ULA fc00::/7), link-local (169.254.0.0/16, which holds
// cloud metadata services, and fe80::/10), multicast, unspecified, CGNAT,
// documentation, benchmarking and reserved ranges, and IPv6 forms that embed
// such an IPv4 address (IPv4-mapped, NAT64, 6to4).
func Forbidden(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsUnspecified() || ip.IsLoopback() || ip.IsPrivate() ||
		ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() {
		return true
	}
	for _, p := range forbiddenPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64.Contains(ip):
			return Forbidden(netip.AddrFrom4([4]byte(b[12:16])))
		case sixTo.Contains(ip):
			return Forbidden(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	return false
}

// Endpoint validation errors; the API maps each to its wire code.
var (
	// ErrEndpointTooLong: longer than MaxEndpointLen.
	ErrEndpointTooLong = errors.New("push: endpoint is too long")
	// ErrEndpointBlank: the URL contains blank or control characters.
	ErrEndpointBlank = errors.New("push: endpoint contains blank characters")
	// ErrEndpointScheme: not http:// or https://.
	ErrEndpointScheme = errors.New("push: endpoint must start with http:// or https://")
	// ErrEndpointInvalid: not a URL with a host (and a valid port).
	ErrEndpointInvalid = errors.New("push: endpoint is not a valid URL")
)

// MaxEndpointLen is the longest endpoint CMQ accepts.
const MaxEndpointLen = 500

// ValidateEndpoint checks a subscription's endpoint URL: at most 500
// characters, no blanks or control characters, http or https, a host, and a
// port in 1..65535 if one is given. It does not resolve the host; the dialer
// checks the address of every push.
func ValidateEndpoint(raw string) error {
	if len(raw) > MaxEndpointLen {
		return fmt.Errorf("%w: %d characters, at most %d", ErrEndpointTooLong, len(raw), MaxEndpointLen)
	}
	if i := strings.IndexFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }); i >= 0 {
		return fmt.Errorf("%w: at offset %d", ErrEndpointBlank, i)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrEndpointInvalid, errors.Unwrap(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return ErrEndpointScheme
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return fmt.Errorf("%w: no host", ErrEndpointInvalid)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%w: port %q", ErrEndpointInvalid, p)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return fmt.Errorf("%w: empty port", ErrEndpointInvalid)
	}
	return nil
}

// endpointKey names the endpoint a URL goes to: scheme, host and port.
func endpointKey(raw string) string { return parseEndpoint(raw).key }

// endpointURL is a parsed endpoint URL and the endpoint it names.
type endpointURL struct {
	url *url.URL // nil when raw does not parse as a URL with a host
	key string   // scheme://host:port, or raw itself when url is nil
}

// endpointURLs caches parsed endpoint URLs: a subscription's endpoint is
// parsed once, not on every push. It is emptied when it grows past
// maxCachedURLs.
var endpointURLs struct {
	m sync.Map // raw → *endpointURL
	n atomic.Int64
}

const maxCachedURLs = 1 << 16

// parseEndpoint returns raw parsed; the result must not be modified.
func parseEndpoint(raw string) *endpointURL {
	if e, ok := endpointURLs.m.Load(raw); ok {
		return e.(*endpointURL)
	}
	e := &endpointURL{key: raw}
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		port := u.Port()
		if port == "" {
			port = "80"
			if u.Scheme == "https" {
				port = "443"
			}
		}
		e.url, e.key = u, u.Scheme+"://"+net.JoinHostPort(strings.ToLower(u.Hostname()), port)
	}
	if endpointURLs.n.Add(1) > maxCachedURLs {
		endpointURLs.m.Clear()
		endpointURLs.n.Store(0)
	}
	endpointURLs.m.Store(raw, e)
	return e
}
