package mqtt

import (
	"io"
	"net"
	"sync"
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
	wg   *sync.WaitGroup
	once sync.Once
}

// Close half-closes the connection and drains it in the background. A read
// blocked on the connection (mochi's read loop, when another goroutine
// closes) returns at once with a timeout.
func (c *lingerConn) Close() error {
	var err error
	c.once.Do(func() {
		if err = c.CloseWrite(); err != nil {
			err = c.TCPConn.Close()
			return
		}
		_ = c.SetReadDeadline(time.Now())
		c.wg.Add(1)
		go c.drain()
	})
	return err
}

func (c *lingerConn) drain() {
	defer c.wg.Done()
	_ = c.SetReadDeadline(time.Now().Add(lingerTimeout))
	_, _ = io.Copy(io.Discard, io.LimitReader(c.TCPConn, 1<<20))
	_ = c.TCPConn.Close()
}
