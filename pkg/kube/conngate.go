package kube

import (
	"net/http"
	"net/http/httptrace"
	"reflect"
	"sync"
)

// One connection per API server, not one per concurrent first request.
//
// check issues its reads together (pkg/check, up to 8 at once), and check
// --contexts checks up to 8 contexts at once, their clients sharing one
// transport per TLS configuration (client-go caches them). Go's HTTP/2
// client shares a connection only once it exists: every request that
// starts while the first connection to a host is still being set up dials
// its own, completes a TLS handshake on it (a key exchange and the
// server's chain verified, and the matching work in the API server) and
// then has net/http close it as surplus. Profiled on the test cluster: up
// to 8 connections for one check, and in check --contexts over 20
// contexts, a fifth of the plugin's CPU spent in handshakes whose
// connection was thrown away.
//
// gateTransport holds the requests to a host that start while the first
// one is connecting until that one has its connection (httptrace's
// GotConn, which HTTP/2 reports once the connection is in its pool); then
// they find it there and multiplex over it. Requests after that pass
// straight through. When the first request fails without a connection, the
// ones waiting go on at once, each dialing as before, so a server that is
// down costs no more than it did.

// gates are the gates of the transports in this process, by transport and
// host: client-go hands one transport to every client with the same TLS
// settings (both of a Clients' clients, every context of one cluster), so
// the gate must be theirs too. An entry keeps its transport from being
// collected, which client-go's cache would otherwise allow once no client
// uses it: a run builds a handful.
var gates sync.Map // gateKey -> *connGate

type gateKey struct {
	// rt is the transport client-go built: a pointer (an *http.Transport,
	// or client-go's wrapper of one), so comparable.
	rt   http.RoundTripper
	host string
}

// connGate is the state of the first connection to one host.
type connGate struct {
	mu sync.Mutex
	// open: a request has had a connection; no one waits any more.
	open bool
	// connecting is non-nil while a leading request is connecting; it is
	// closed when it has its connection or has failed.
	connecting chan struct{}
}

// enter returns (true, nil) when the caller should lead (send and report
// its connection), (false, ch) when it should wait for ch, and (false, nil)
// when it may go straight on.
func (g *connGate) enter() (lead bool, wait <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.open:
		return false, nil
	case g.connecting != nil:
		return false, g.connecting
	}
	g.connecting = make(chan struct{})
	return true, nil
}

// done ends a lead: connected opens the gate for good; otherwise the next
// request leads again. Either way the waiting requests go on.
func (g *connGate) done(connected bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.connecting == nil {
		return // already ended
	}
	if connected {
		g.open = true
	}
	close(g.connecting)
	g.connecting = nil
}

// gateTransport sends each request through its host's connGate.
type gateTransport struct {
	next http.RoundTripper
}

// gateWrapper is the rest.Config.WrapTransport function installing the
// gate, right above the transport client-go built. A transport that is not
// a pointer cannot key the gates safely (a struct holding a map would make
// the lookup panic), and client-go builds none: it is left as it is.
func gateWrapper(rt http.RoundTripper) http.RoundTripper {
	if rt == nil || reflect.TypeOf(rt).Kind() != reflect.Pointer {
		return rt
	}
	return &gateTransport{next: rt}
}

// WrappedRoundTripper lets client-go reach the transport underneath
// (k8s.io/apimachinery's RoundTripperWrapper), as retryTransport does.
func (g *gateTransport) WrappedRoundTripper() http.RoundTripper { return g.next }

func (g *gateTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	v, _ := gates.LoadOrStore(gateKey{g.next, req.URL.Host}, &connGate{})
	gate := v.(*connGate)
	lead, wait := gate.enter()
	if wait != nil {
		select {
		case <-wait:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	if !lead {
		return g.next.RoundTrip(req)
	}
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { gate.done(true) }}
	resp, err := g.next.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	// A response means a connection, even if GotConn was not reported (a
	// RoundTripper that does not trace); no response and no GotConn means
	// none was made.
	gate.done(err == nil)
	return resp, err
}
