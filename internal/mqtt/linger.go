package mqtt

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// lingerTimeout bounds how long a closed MQTT connection is drained: long
// enough for the client to read a DISCONNECT and close its end, short enough
// that a client that does not close holds nothing for long.
const lingerTimeout = 2 * time.Second

// lingerListener makes the broker's closes graceful. mochi closes a
// connection right after writing a DISCONNECT (receive maximum exceeded,
// packet too large, takeover, shutdown); if the client has sent more that the
// broker did not read, closing at once sends a TCP reset, and the client
// reads the reset instead of the DISCONNECT. Closing a lingerConn half-closes
// it instead (FIN after everything written), then reads and discards what
// the client still sends until it closes its end or lingerTimeout passes.
type lingerListener struct {
	net.Listener
	wg *sync.WaitGroup // the drains still running; Server.Stop waits for them
}

func (l lingerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	return &lingerConn{TCPConn: tc, wg: l.wg}, nil
}

type lingerConn struct {
	*net.TCPConn
	wg     *sync.WaitGroup
	once   sync.Once
	closed atomic.Bool
}

// Read fails once the connection is closed: what the client sends after
// that is drained, never read as packets.
func (c *lingerConn) Read(b []byte) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	return c.TCPConn.Read(b)
}

// SetDeadline and SetReadDeadline do nothing once the connection is closed,
// so that mochi's keep-alive deadline does not replace the drain's.
func (c *lingerConn) SetDeadline(t time.Time) error {
	if c.closed.Load() {
		return nil
	}
	return c.TCPConn.SetDeadline(t)
}

func (c *lingerConn) SetReadDeadline(t time.Time) error {
	if c.closed.Load() {
		return nil
	}
	return c.TCPConn.SetReadDeadline(t)
}

// Close half-closes the connection and drains it in the background. A read
// blocked on the connection (mochi's read loop, when another goroutine
// closes) returns at once with a timeout.
func (c *lingerConn) Close() error {
	var err error
	c.once.Do(func() {
		c.closed.Store(true)
		if err = c.CloseWrite(); err != nil {
			err = c.TCPConn.Close()
			return
		}
		_ = c.TCPConn.SetReadDeadline(time.Now())
		c.wg.Add(1)
		go c.drain()
	})
	return err
}

// drain discards what the client sends until it closes its end, and closes
// the connection after lingerTimeout at the latest.
func (c *lingerConn) drain() {
	defer c.wg.Done()
	hard := time.AfterFunc(lingerTimeout, func() { _ = c.TCPConn.Close() })
	defer hard.Stop()
	_ = c.TCPConn.SetReadDeadline(time.Now().Add(lingerTimeout))
	_, _ = io.Copy(io.Discard, io.LimitReader(c.TCPConn, 1<<20))
	_ = c.TCPConn.Close()
}
