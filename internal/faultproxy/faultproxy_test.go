package faultproxy_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/internal/faultproxy"
)

// echoServer is a real TCP server on a free port that answers every line
// with the same line.
func echoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends a line through a new connection and returns the reply and
// how long it took, giving up after timeout.
func roundTrip(addr string, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(start.Add(timeout))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return 0, err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return 0, err
	}
	if line != "ping\n" {
		return 0, errors.New("wrong reply " + line)
	}
	return time.Since(start), nil
}

func TestFaults(t *testing.T) {
	p := faultproxy.Start(t, echoServer(t))
	addr := p.Addr()
	if _, err := roundTrip(addr, time.Second); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}

	p.Cut()
	if _, err := roundTrip(addr, time.Second); err == nil {
		t.Fatal("round trip succeeded through a cut proxy")
	}
	p.Restore()
	if p.Addr() != addr {
		t.Fatalf("address changed from %s to %s across Cut and Restore", addr, p.Addr())
	}
	if _, err := roundTrip(addr, time.Second); err != nil {
		t.Fatalf("after Restore: %v", err)
	}

	p.Latency(200 * time.Millisecond)
	if d, err := roundTrip(addr, time.Second); err != nil || d < 200*time.Millisecond {
		t.Fatalf("with 200ms latency: took %v, err %v", d, err)
	}
	p.Restore()

	p.Blackhole()
	if _, err := roundTrip(addr, 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("through a black hole: %v, want a read timeout", err)
	}
	p.Restore()
	if d, err := roundTrip(addr, time.Second); err != nil || d > 100*time.Millisecond {
		t.Fatalf("after Restore: took %v, err %v", d, err)
	}
}

// LoseNextReply: the server gets the request (it answers, so it read it),
// the client gets no byte of the answer and a closed connection; the next
// connection works.
func TestLoseNextReply(t *testing.T) {
	p := faultproxy.Start(t, echoServer(t))
	lost := p.LoseNextReply()
	if lost() {
		t.Fatal("reported a lost reply before any request")
	}
	c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(c); err != nil || len(b) != 0 {
		t.Fatalf("read %q, %v through a lost reply, want no byte and the connection closed", b, err)
	}
	if !lost() {
		t.Fatal("the reply was dropped but LoseNextReply does not report it")
	}
	if _, err := roundTrip(p.Addr(), time.Second); err != nil {
		t.Fatalf("the reply after the lost one: %v", err)
	}
	p.Restore()
	if _, err := roundTrip(p.Addr(), time.Second); err != nil {
		t.Fatalf("after Restore: %v", err)
	}
}

// LoseReplyTo: the reply to the marked request is lost, and the replies
// before it pass; with hold, the connection then stays open and silent.
func TestLoseReplyTo(t *testing.T) {
	p := faultproxy.Start(t, echoServer(t))
	for _, hold := range []bool{false, true} {
		lost := p.LoseReplyTo("mark", hold)
		c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(c)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("first\n")); err != nil {
			t.Fatal(err)
		}
		if line, err := r.ReadString('\n'); err != nil || line != "first\n" {
			t.Fatalf("hold=%v: the reply before the marked request: %q, %v", hold, line, err)
		}
		if lost() {
			t.Fatalf("hold=%v: reported a lost reply before the marked request", hold)
		}
		if _, err := c.Write([]byte("MARK\n")); err != nil {
			t.Fatal(err)
		}
		if hold {
			// Silence, not a closed connection, until the deadline.
			c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			if b, err := r.ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("hold: read %q, %v through a held reply; want the read deadline", b, err)
			}
		} else if b, err := io.ReadAll(r); err != nil || len(b) != 0 {
			t.Fatalf("read %q, %v through a lost reply, want no byte and the connection closed", b, err)
		}
		c.Close()
		if !lost() {
			t.Fatalf("hold=%v: the reply was dropped but LoseReplyTo does not report it", hold)
		}
		p.Restore()
		if _, err := roundTrip(p.Addr(), time.Second); err != nil {
			t.Fatalf("hold=%v: after Restore: %v", hold, err)
		}
	}
}

// Requests loses the reply to the chosen request only, and counts the
// requests sent since LoseReplyTo.
func TestRequests(t *testing.T) {
	p := faultproxy.Start(t, echoServer(t))
	r := p.Requests()
	r.Sending("ping") // before LoseReplyTo: not counted after it
	r.LoseReplyTo("ping", 2)
	for i := 1; i <= 3; i++ {
		r.Sending("ping")
		_, err := roundTrip(p.Addr(), time.Second)
		if (err != nil) != (i == 2) {
			t.Fatalf("request %d: %v; want the second one alone to lose its reply", i, err)
		}
		if err != nil {
			r.Failed("ping")
		}
	}
	if c := r.Count("ping"); c != (faultproxy.Count{Sent: 3, Failed: 1, Lost: true}) {
		t.Fatalf("Count(ping) = %+v; want 3 sent, 1 failed, and the reply lost", c)
	}
	if c := r.Count("other"); c.Sent != 0 || c.Failed != 0 {
		t.Fatalf("Count(other) = %+v, want nothing sent", c)
	}
}

// Deadline is tenfold the slowest call, within its bounds.
func TestDeadline(t *testing.T) {
	p := faultproxy.Start(t, echoServer(t))
	ping := func(context.Context) error { _, err := roundTrip(p.Addr(), time.Second); return err }
	if d := p.Deadline(300*time.Millisecond, ping); d < 300*time.Millisecond || d > 5*time.Second {
		t.Errorf("Deadline = %v, want at least the floor, 300ms, at most 5s", d)
	}
	p.Latency(100 * time.Millisecond)
	if d := p.Deadline(300*time.Millisecond, ping); d < time.Second || d > 5*time.Second {
		t.Errorf("Deadline with 100ms latency = %v, want tenfold the slowest call (at least 1s), at most 5s", d)
	}
}
