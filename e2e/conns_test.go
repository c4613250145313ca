package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/client"
)

// lowFiles runs herald with at most this many open files.
const lowFiles = 256

// lowFilesWrapper starts herald through a shell that lowers its open-file
// limit (soft and hard, so that the Go runtime cannot raise it again).
var lowFilesWrapper = []string{"/bin/sh", "-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, lowFiles)}

// slowBody opens a connection that sends a request announcing a 100000-byte
// body and then only a few bytes of it.
func slowBody(addr string) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	_, err = io.WriteString(c, "POST / HTTP/1.1\r\nHost: "+addr+"\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
		"Content-Length: 100000\r\n\r\nAction=")
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// More connections stalled in their request body than herald may open
// files neither exhaust its descriptors nor keep signed requests out: the
// connection cap keeps the extra ones in the kernel's accept queue, and the
// read timeout closes each stalled one.
func TestSlowBodiesDoNotStarveSignedRequests(t *testing.T) {
	t.Parallel()
	const slow = 300 // > lowFiles
	n := startVia(t, lowFilesWrapper, t.TempDir(), nil, "--max-connections", "100", "--http-read-timeout", "1s")
	ctx := context.Background()
	_, err := n.Client.CreateQueue(ctx, client.CreateQueueRequest{QueueName: "flood"})
	require.NoError(t, err)

	conns := make([]net.Conn, 0, slow)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for range slow {
		c, err := slowBody(n.addr)
		require.NoError(t, err)
		conns = append(conns, c)
	}

	// Each signed request on a connection of its own, so that each one
	// queues behind the stalled ones for a slot; each send is an engine
	// write.
	fresh, err := client.New("http://"+n.addr, secretID, secretKey,
		client.WithHTTPClient(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}))
	require.NoError(t, err)
	for i := range 5 {
		_, err := fresh.SendMessage(ctx, client.SendMessageRequest{QueueName: "flood", MsgBody: fmt.Sprint("m", i)})
		require.NoError(t, err, "send %d during the flood", i)
		// More stalled connections behind this one.
		for range 20 {
			c, err := slowBody(n.addr)
			require.NoError(t, err)
			conns = append(conns, c)
		}
	}

	// Every stalled connection is answered and closed by herald.
	var wg sync.WaitGroup
	errs := make(chan error, len(conns))
	for i, c := range conns {
		wg.Go(func() {
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, err := io.ReadAll(c)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				errs <- fmt.Errorf("stalled connection %d still open after 20s", i)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	var bodies []string
	for range 5 {
		got, err := n.Client.ReceiveMessage(ctx, client.ReceiveMessageRequest{QueueName: "flood", PollingWaitSeconds: new(0)})
		require.NoError(t, err)
		bodies = append(bodies, got.MsgBody)
	}
	require.ElementsMatch(t, []string{"m0", "m1", "m2", "m3", "m4"}, bodies)
	require.NotContains(t, n.stderr.String(), "too many open files")
}

// The read timeout ends with the request body: a long poll that waits
// longer is answered in full, on the binary, and its connection reused.
func TestLongPollOutlivesTheReadTimeout(t *testing.T) {
	t.Parallel()
	n := start(t, t.TempDir(), nil, "--http-read-timeout", "1s")
	ctx := context.Background()
	_, err := n.Client.CreateQueue(ctx, client.CreateQueueRequest{QueueName: "poll"})
	require.NoError(t, err)
	polling := time.Now()
	_, err = n.Client.ReceiveMessage(ctx, client.ReceiveMessageRequest{QueueName: "poll", PollingWaitSeconds: new(3)})
	require.ErrorIs(t, err, client.ErrNoMessage)
	require.GreaterOrEqual(t, time.Since(polling), 3*time.Second, "the poll waited its whole time, past the 1s read timeout")
	_, err = n.Client.SendMessage(ctx, client.SendMessageRequest{QueueName: "poll", MsgBody: "next"})
	require.NoError(t, err)
	got, err := n.Client.ReceiveMessage(ctx, client.ReceiveMessageRequest{QueueName: "poll", PollingWaitSeconds: new(3)})
	require.NoError(t, err)
	require.Equal(t, "next", got.MsgBody)
}
