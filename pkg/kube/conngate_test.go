package kube

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// h2Server is an HTTPS server speaking HTTP/2, as the API server does,
// counting the connections it accepted.
// A request for /slow is answered only once slow is closed.
func h2Server(t *testing.T, slow <-chan struct{}) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-slow
		}
		_, _ = io.WriteString(w, r.Proto)
	}))
	ts.EnableHTTP2 = true
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts, &conns
}

// slowDialTransport is ts's client transport with a dial that takes a
// while, as one to a remote API server does: every request of a burst
// starts before the first connection is up.
func slowDialTransport(ts *httptest.Server) *http.Transport {
	tr := ts.Client().Transport.(*http.Transport).Clone()
	d := &net.Dialer{}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		time.Sleep(50 * time.Millisecond)
		return d.DialContext(ctx, network, addr)
	}
	return tr
}

func burst(t *testing.T, rt http.RoundTripper, url string, n int) []error {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req, err := http.NewRequest(http.MethodGet, url, nil)
			if err != nil {
				errs[i] = err
				return
			}
			resp, err := rt.RoundTrip(req)
			if err != nil {
				errs[i] = err
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "HTTP/2.0" {
				errs[i] = errors.New("answered over " + string(body) + ", not HTTP/2")
			}
		})
	}
	wg.Wait()
	return errs
}

// A burst of requests to a server not yet connected to shares one
// connection: one TLS handshake, not one per request.
func TestGateOneConnectionPerBurst(t *testing.T) {
	ts, conns := h2Server(t, nil)
	rt := gateWrapper(slowDialTransport(ts))
	for i, err := range burst(t, rt, ts.URL, 8) {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("8 concurrent first requests opened %d connections, want 1", n)
	}
	// Later bursts use the connection too.
	for i, err := range burst(t, rt, ts.URL, 8) {
		if err != nil {
			t.Fatalf("second burst, request %d: %v", i, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("after a second burst %d connections, want 1", n)
	}
}

// The requests waiting go on as soon as the first has its connection, not
// when it has its answer: a slow first request delays none of them.
func TestGateReleasesAtConnection(t *testing.T) {
	slow := make(chan struct{})
	ts, conns := h2Server(t, slow)
	rt := gateWrapper(slowDialTransport(ts))
	first := make(chan error, 1)
	go func() {
		errs := burst(t, rt, ts.URL+"/slow", 1)
		first <- errs[0]
	}()
	// The first request is dialing (50 ms) when the others start.
	time.Sleep(10 * time.Millisecond)
	others := make(chan []error, 1)
	go func() { others <- burst(t, rt, ts.URL+"/fast", 4) }()
	select {
	case errs := <-others:
		for i, err := range errs {
			if err != nil {
				t.Errorf("request %d: %v", i, err)
			}
		}
	case <-time.After(3 * time.Second):
		t.Error("the other requests waited for the first one's answer")
	}
	close(slow)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// Clients of one transport share its gate, as client-go's clients of one
// cluster share its transport: each Clients' wrapper is a new gateTransport.
func TestGateSharedByWrappersOfOneTransport(t *testing.T) {
	ts, conns := h2Server(t, nil)
	tr := slowDialTransport(ts)
	var wg sync.WaitGroup
	for range 4 {
		rt := gateWrapper(tr)
		wg.Go(func() {
			for i, err := range burst(t, rt, ts.URL, 2) {
				if err != nil {
					t.Errorf("request %d: %v", i, err)
				}
			}
		})
	}
	wg.Wait()
	if n := conns.Load(); n != 1 {
		t.Errorf("4 wrappers of one transport opened %d connections, want 1", n)
	}
}

// stubRT answers through a function; a pointer, as client-go's transports.
type stubRT struct {
	calls atomic.Int32
	fn    func(*http.Request) (*http.Response, error)
}

func (s *stubRT) RoundTrip(r *http.Request) (*http.Response, error) {
	s.calls.Add(1)
	return s.fn(r)
}

func okResponse() *http.Response {
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}
}

func get(t *testing.T, rt http.RoundTripper, ctx context.Context) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://gate.test/x", nil)
		resp, err := rt.RoundTrip(req)
		if resp != nil {
			resp.Body.Close()
		}
		done <- err
	}()
	return done
}

// A request waits while the first is connecting; when the first fails
// without a connection, it goes on (and dials itself), and the request
// after leads again: the one after that waits for it.
func TestGateFailedLeadReleases(t *testing.T) {
	release := map[int32]chan struct{}{1: make(chan struct{}), 3: make(chan struct{})}
	stub := &stubRT{}
	stub.fn = func(*http.Request) (*http.Response, error) {
		n := stub.calls.Load()
		if ch, ok := release[n]; ok {
			<-ch
		}
		if n == 1 {
			return nil, errors.New("connection refused")
		}
		return okResponse(), nil
	}
	rt := gateWrapper(stub)
	waitCalls := func(n int32) {
		for stub.calls.Load() < n {
			time.Sleep(time.Millisecond)
		}
	}
	first := get(t, rt, context.Background())
	waitCalls(1)
	second := get(t, rt, context.Background())
	time.Sleep(50 * time.Millisecond)
	if n := stub.calls.Load(); n != 1 {
		t.Fatalf("%d requests reached the transport while the first was connecting, want 1", n)
	}
	close(release[1])
	if err := <-first; err == nil {
		t.Fatal("the first request did not fail")
	}
	select {
	case err := <-second:
		if err != nil {
			t.Fatalf("the waiting request: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting request still waits after the first failed")
	}
	// The first failed: the gate is not open, the next request leads.
	third := get(t, rt, context.Background())
	waitCalls(3)
	fourth := get(t, rt, context.Background())
	time.Sleep(50 * time.Millisecond)
	if n := stub.calls.Load(); n != 3 {
		t.Fatalf("%d requests reached the transport while the third (leading again) was in flight, want 3", n)
	}
	close(release[3])
	for _, ch := range []<-chan error{third, fourth} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	// It succeeded: the gate is open, requests go straight through.
	if err := <-get(t, rt, context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := stub.calls.Load(); n != 5 {
		t.Errorf("%d requests reached the transport, want 5", n)
	}
}

// A waiting request whose context ends returns at once with its error,
// never reaching the transport.
func TestGateWaiterCancelled(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	stub := &stubRT{}
	stub.fn = func(*http.Request) (*http.Response, error) {
		<-release
		return okResponse(), nil
	}
	rt := gateWrapper(stub)
	_ = get(t, rt, context.Background())
	for stub.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	waiter := get(t, rt, ctx)
	cancel()
	select {
	case err := <-waiter:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled waiter returned %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a cancelled waiter still waits")
	}
	if n := stub.calls.Load(); n != 1 {
		t.Errorf("%d requests reached the transport, want 1", n)
	}
}

// valueRT is a transport that is not a pointer: it cannot key the gates.
type valueRT struct{ m map[string]int }

func (valueRT) RoundTrip(*http.Request) (*http.Response, error) { return okResponse(), nil }

func TestGateLeavesValueTransports(t *testing.T) {
	rt := valueRT{m: map[string]int{}}
	if _, ok := gateWrapper(rt).(valueRT); !ok {
		t.Fatal("a transport that is not a pointer was wrapped")
	}
	if gateWrapper(nil) != nil {
		t.Fatal("nil was wrapped")
	}
	if _, ok := gateWrapper(&stubRT{}).(*gateTransport); !ok {
		t.Fatal("a pointer transport was not wrapped")
	}
	g := &gateTransport{next: &stubRT{}}
	if g.WrappedRoundTripper() != g.next {
		t.Fatal("WrappedRoundTripper does not return the wrapped transport")
	}
}
