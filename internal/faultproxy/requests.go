package faultproxy

import "sync"

// Requests counts the requests a test's client sends through a Proxy, by
// name, and makes the proxy lose the reply to a chosen one: the n-th
// request of a name, which LoseNextReply alone cannot single out when one
// call makes several requests. The client reports each request to Sending
// before it sends it, and to Failed when it gets no reply: from its HTTP
// transport, or from the command monitor of a database driver.
type Requests struct {
	p *Proxy

	mu     sync.Mutex
	sent   map[string]int
	failed map[string]int
	name   string // the request whose reply is lost: the n-th named name
	n      int
	lost   func() bool
}

// Requests returns a counter of the requests sent through p.
func (p *Proxy) Requests() *Requests {
	return &Requests{p: p, sent: map[string]int{}, failed: map[string]int{}}
}

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

// Failed counts a request named name that got no reply.
func (r *Requests) Failed(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed[name]++
}

// LoseReplyTo starts the counts again from zero and chooses the n-th
// request named name to lose its reply; with n = 0 it only starts the
// counts again. Restore removes the fault if that request has not been
// sent.
func (r *Requests) LoseReplyTo(name string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent, r.failed, r.name, r.n, r.lost = map[string]int{}, map[string]int{}, name, n, nil
}

// Count is what Requests saw of the requests of one name since
// LoseReplyTo.
type Count struct {
	Sent, Failed int
	// Lost says that the proxy has dropped a reply since the chosen
	// request was sent. The driver of a database may have sent requests
	// of its own meanwhile (a handshake, a heartbeat), so it was the
	// chosen request's if that request Failed.
	Lost bool
}

// Count returns what Requests saw of the requests named name.
func (r *Requests) Count(name string) Count {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Count{Sent: r.sent[name], Failed: r.failed[name], Lost: r.lost != nil && r.lost()}
}
