// Package faultproxy puts a fault injector between a test's client and a
// real server: Toxiproxy, run in process, forwarding a local port to the
// server. A test points its client at Addr and then cuts the connection,
// black-holes it or slows it down, to check that the code under test fails
// within its context deadline instead of hanging, and recovers afterwards.
package faultproxy

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/toxics"
	"github.com/rs/zerolog"
)

// Proxy forwards TCP connections from Addr to an upstream server. Its
// methods fail the test on error and may be called from one goroutine at a
// time.
type Proxy struct {
	t testing.TB
	p *toxiproxy.Proxy
}

var proxies atomic.Int64

// Start listens on a free port of 127.0.0.1, forwards every connection to
// upstream, and stops (closing every connection) when the test ends.
func Start(t testing.TB, upstream string) *Proxy {
	t.Helper()
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(server, fmt.Sprintf("proxy%d", proxies.Add(1)), "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatalf("faultproxy: start a proxy to %s: %v", upstream, err)
	}
	t.Cleanup(p.Stop)
	return &Proxy{t: t, p: p}
}

// Deadline returns the deadline a fault test should give the calls it
// makes through p (cachetest.RunFaults makes its setup and its checks
// through the adapter too, bounded by it): tenfold the slowest of five
// calls of op, which the proxy passes unchanged, and at least floor, at
// most five seconds. A server shared by everyone testing on a loaded
// machine answers in what the load leaves it, sometimes seconds rather
// than milliseconds; a fixed deadline would measure the load.
func (p *Proxy) Deadline(floor time.Duration, op func(ctx context.Context) error) time.Duration {
	p.t.Helper()
	var slowest time.Duration
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		start := time.Now()
		err := op(ctx)
		slowest = max(slowest, time.Since(start))
		cancel()
		if err != nil {
			p.t.Fatalf("faultproxy: a call before any fault: %v", err)
		}
	}
	d := min(max(floor, 10*slowest), 5*time.Second)
	p.t.Logf("faultproxy: the slowest of five calls took %v: deadline %v", slowest, d)
	return d
}

// Addr is the host:port clients connect to. It stays the same across Cut
// and Restore.
func (p *Proxy) Addr() string { return p.p.Listen }

// Cut closes every open connection and refuses new ones, as when the server
// goes away: calls fail fast with a connection error.
func (p *Proxy) Cut() { p.p.Stop() }

// Restore undoes Cut and removes every toxic (Blackhole, Latency): the
// proxy accepts connections again on the same address and passes data
// unchanged.
func (p *Proxy) Restore() {
	p.t.Helper()
	p.p.Toxics.ResetToxics(context.Background())
	if p.p.Enabled {
		return
	}
	// The port was just released; retry briefly in case the kernel has
	// not let go of it yet.
	var err error
	for range 50 {
		if err = p.p.Start(); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.t.Fatalf("faultproxy: restore %s: %v", p.Addr(), err)
}

// Blackhole keeps connections open but drops every byte sent in either
// direction, as in a network partition: a call can only end by its own
// deadline. Restore ends it (closing the connections it held).
func (p *Proxy) Blackhole() {
	p.t.Helper()
	for _, stream := range []string{"upstream", "downstream"} {
		p.addToxic(fmt.Sprintf(`{"name":"blackhole-%s","type":"timeout","stream":%q,"attributes":{"timeout":0}}`, stream, stream))
	}
}

// Latency delays every reply from the server by d (millisecond resolution)
// until Restore.
func (p *Proxy) Latency(d time.Duration) {
	p.t.Helper()
	p.addToxic(fmt.Sprintf(`{"name":"latency","type":"latency","stream":"downstream","attributes":{"latency":%d}}`, d.Milliseconds()))
}

// LoseNextReply lets every request through but drops the next reply the
// server sends, on whichever connection it comes, and closes that
// connection: the server has applied the command and the client never
// learns the outcome. Later replies and connections pass unchanged. The
// returned function reports whether a reply has been dropped yet, so that
// a test can tell a call that met the fault from one that never did.
// Restore removes the fault if it has not fired.
func (p *Proxy) LoseNextReply() (lost func() bool) {
	p.t.Helper()
	w := p.addToxic(`{"name":"lose-next-reply","type":"` + loseNextReplyType + `","stream":"downstream"}`)
	t := w.Toxic.(*loseNextReply)
	return t.fired.Load
}

// LoseReplyTo is LoseNextReply for the reply to the next request that
// contains request, ignoring ASCII case (such as the text of a statement,
// which clients write in either case), when a call sends several and only
// one of them is to meet the fault. With hold, the
// connection is not closed but stays open and silent: that reply and every
// later one, on every connection, are withheld until Restore, as when the
// server stops answering in the middle of a call.
func (p *Proxy) LoseReplyTo(request string, hold bool) (lost func() bool) {
	p.t.Helper()
	id := triggers.Add(1)
	armed := new(atomic.Bool)
	armedBy.Store(id, armed)
	p.addToxic(fmt.Sprintf(`{"name":"arm-on-request","type":%q,"stream":"upstream","attributes":{"trigger":%d,"request":%q}}`,
		armOnRequestType, id, request))
	w := p.addToxic(fmt.Sprintf(`{"name":"lose-next-reply","type":%q,"stream":"downstream","attributes":{"trigger":%d,"hold":%t}}`,
		loseNextReplyType, id, hold))
	t := w.Toxic.(*loseNextReply)
	return t.fired.Load
}

func (p *Proxy) addToxic(spec string) *toxics.ToxicWrapper {
	p.t.Helper()
	w, err := p.p.Toxics.AddToxicJson(strings.NewReader(spec))
	if err != nil {
		p.t.Fatalf("faultproxy: add toxic %s: %v", spec, err)
	}
	return w
}

const (
	loseNextReplyType = "cachelib_lose_next_reply"
	armOnRequestType  = "cachelib_arm_on_request"
)

// Triggers connect the two halves of LoseReplyTo, toxics of opposite
// streams that toxiproxy creates from their attributes: armedBy maps the
// number of each to whether its request has passed.
var (
	triggers atomic.Int64
	armedBy  sync.Map
)

func armedFor(trigger int64) *atomic.Bool {
	v, _ := armedBy.Load(trigger)
	return v.(*atomic.Bool)
}

// armOnRequest passes everything and arms its trigger when a chunk that
// the client sends contains its request, ignoring ASCII case, before
// passing the chunk on: the reply cannot come before.
type armOnRequest struct {
	Trigger int64  `json:"trigger"`
	Request string `json:"request"`
}

func (t *armOnRequest) Pipe(stub *toxics.ToxicStub) {
	armed := armedFor(t.Trigger)
	request := bytes.ToLower([]byte(t.Request))
	pipe(stub, func(data []byte) verdict {
		if bytes.Contains(bytes.ToLower(data), request) {
			armed.Store(true)
		}
		return pass
	})
}

// loseNextReply is a toxic shared by every connection of a proxy: the first
// chunk of data it sees, in any of them, is dropped and its connection
// closed; after that it passes everything through. With a trigger, only
// the first chunk after the trigger is armed counts, and with hold, that
// chunk and every later one are dropped and the connections left open.
type loseNextReply struct {
	Trigger int64 `json:"trigger"`
	Hold    bool  `json:"hold"`
	fired   atomic.Bool
}

func (t *loseNextReply) Pipe(stub *toxics.ToxicStub) {
	var armed *atomic.Bool
	if t.Trigger != 0 {
		armed = armedFor(t.Trigger)
	}
	pipe(stub, func([]byte) verdict {
		switch {
		case armed != nil && !armed.Load():
		case t.Hold:
			t.fired.Store(true)
			return drop
		case t.fired.CompareAndSwap(false, true):
			return cut
		}
		return pass
	})
}

// A verdict is what a toxic does with a chunk of data.
type verdict int

const (
	pass verdict = iota // pass it on
	drop                // drop it
	cut                 // drop it and close the connection
)

// pipe runs a toxic: judge decides what becomes of each chunk.
func pipe(stub *toxics.ToxicStub, judge func(data []byte) verdict) {
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
			switch judge(c.Data) {
			case drop:
				continue
			case cut:
				// Closing the stub's output ends the link: the client
				// sees the connection close before any byte of the reply.
				stub.Close()
				return
			}
			stub.Output <- c
		}
	}
}

func init() {
	toxics.Register(loseNextReplyType, new(loseNextReply))
	toxics.Register(armOnRequestType, new(armOnRequest))
}
