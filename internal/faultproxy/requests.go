package faultproxy

import "sync"

// Requests counts the requests a test's client sends through a Proxy, by
// name, and makes the proxy lose the reply to a chosen one: the n-th
// request of a name, which LoseNextReply alone cannot single out when one
// call makes several requests. The client reports each request to Sending
// before it sends it: from its HTTP transport, or from the command monitor
// of a database driver.
type Requests struct {
	p *Proxy

	mu   sync.Mutex
	sent map[string]int
	name string // the request whose reply is lost: the n-th named name
	n    int
	lost func() bool
}

// Requests returns a counter of the requests sent through p.
func (p *Proxy) Requests() *Requests { return &Requests{p: p, sent: map[string]int{}} }

// Sending counts a request named name that is about to be sent, and makes
// the proxy lose its reply if it is the one LoseReplyTo chose.
func (r *Requests) Sending(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent[name]++
	if name == r.name && r.sent[name] == r.n {
		r.lost = r.p.LoseNextReply()
	}
}

// LoseReplyTo starts the counts again from zero and chooses the n-th
// request named name to lose its reply; with n = 0 it only starts the
// counts again. Restore removes the fault if that request has not been
// sent.
func (r *Requests) LoseReplyTo(name string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent, r.name, r.n, r.lost = map[string]int{}, name, n, nil
}

// Sent returns how many requests named name were sent since LoseReplyTo,
// and whether the chosen one's reply has been lost.
func (r *Requests) Sent(name string) (n int, lost bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sent[name], r.lost != nil && r.lost()
}
