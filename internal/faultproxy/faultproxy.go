// Package faultproxy puts a fault injector between a test's client and a
// real server: Toxiproxy, run in process, forwarding a local port to the
// server. A test points its client at Addr and then cuts the connection,
// black-holes it or slows it down, to check that the code under test fails
// within its context deadline instead of hanging, and recovers afterwards.
package faultproxy

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
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

func (p *Proxy) addToxic(spec string) {
	p.t.Helper()
	if _, err := p.p.Toxics.AddToxicJson(strings.NewReader(spec)); err != nil {
		p.t.Fatalf("faultproxy: add toxic %s: %v", spec, err)
	}
}
