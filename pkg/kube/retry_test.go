package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fakeClock is time for a retryTransport under test: sleeping advances it.
type fakeClock struct {
	t     time.Time
	slept []time.Duration
}

func (c *fakeClock) now() time.Time { return c.t }
func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	c.slept = append(c.slept, d)
	c.t = c.t.Add(d)
	return ctx.Err()
}

// testTransport is WrapRetry(next) on a fake clock without jitter.
func testTransport(next http.RoundTripper, clock *fakeClock) *retryTransport {
	t := WrapRetry(next).(*retryTransport)
	t.now, t.sleep = clock.now, clock.sleep
	t.jitter = func(d time.Duration) time.Duration { return d }
	return t
}

// script answers attempt i with steps[i] (the last one repeats) and records
// the body each attempt sent.
type script struct {
	steps  []func(*http.Request) (*http.Response, error)
	calls  int
	bodies []string
}

func (s *script) RoundTrip(req *http.Request) (*http.Response, error) {
	var body string
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		req.Body.Close()
		body = string(b)
	}
	s.bodies = append(s.bodies, body)
	step := s.steps[min(s.calls, len(s.steps)-1)]
	s.calls++
	return step(req)
}

func fail(err error) func(*http.Request) (*http.Response, error) {
	return func(*http.Request) (*http.Response, error) { return nil, err }
}

func ok(body string) func(*http.Request) (*http.Response, error) {
	return func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(body)), Request: req, Header: http.Header{}}, nil
	}
}

// cutBody answers 200 and then breaks off the body after part of it.
func cutBody(part string) func(*http.Request) (*http.Response, error) {
	return func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: io.NopCloser(io.MultiReader(strings.NewReader(part), errReader{io.ErrUnexpectedEOF})), Request: req, Header: http.Header{}}, nil
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func request(t *testing.T, ctx context.Context, method, rawURL, contentType, body string) *http.Request {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = bytes.NewReader([]byte(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, r)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

const secretURL = "https://api.example:6443/api/v1/namespaces/ns/secrets/s"

func TestIsTransient(t *testing.T) {
	opErr := func(errno syscall.Errno) error {
		return &url.Error{Op: "Get", URL: secretURL, Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}}
	}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", opErr(syscall.ECONNREFUSED), true},
		{"connection reset", opErr(syscall.ECONNRESET), true},
		{"broken pipe", opErr(syscall.EPIPE), true},
		{"EOF", &url.Error{Op: "Get", URL: secretURL, Err: io.EOF}, true},
		{"unexpected EOF in the body", &bodyError{err: io.ErrUnexpectedEOF}, true},
		{"client-go's body error", fmt.Errorf("unexpected error when reading response body. Please retry. Original error: %w", io.ErrUnexpectedEOF), true},
		{"GOAWAY", errors.New("http2: server sent GOAWAY and closed the connection; LastStreamID=1, ErrCode=NO_ERROR, debug=\"\""), true},
		{"TLS handshake timeout", &url.Error{Op: "Get", URL: secretURL, Err: errors.New("net/http: TLS handshake timeout")}, true},
		{"cancelled", &url.Error{Op: "Get", URL: secretURL, Err: context.Canceled}, false},
		{"deadline", &url.Error{Op: "Get", URL: secretURL, Err: context.DeadlineExceeded}, false},
		{"certificate", &url.Error{Op: "Get", URL: secretURL, Err: errors.New("tls: failed to verify certificate: x509: certificate signed by unknown authority")}, false},
		{"DNS", &url.Error{Op: "Get", URL: secretURL, Err: &net.DNSError{Err: "no such host", Name: "api.example", IsNotFound: true}}, false},
	} {
		if got := IsTransient(c.err); got != c.want {
			t.Errorf("%s: IsTransient(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

func TestRepeatable(t *testing.T) {
	ctx := context.Background()
	pre := `{"kind":"DeleteOptions","apiVersion":"v1","preconditions":{"uid":"0b7c","resourceVersion":"42"}}`
	for _, c := range []struct {
		name                     string
		method, url, ctype, body string
		want                     bool
	}{
		{"GET", "GET", secretURL, "", "", true},
		{"LIST", "GET", "https://api.example:6443/api/v1/namespaces/ns/pods?labelSelector=istio%3Dingressgateway", "", "", true},
		{"server-side apply", "PATCH", secretURL + "?fieldManager=kubectl-albistio&force=true", "application/apply-patch+yaml", "{}", true},
		{"server-side apply, CBOR", "PATCH", secretURL + "?fieldManager=kubectl-albistio", "application/apply-patch+cbor", "x", true},
		{"dry-run create", "POST", "https://api.example:6443/api/v1/namespaces/ns/secrets?dryRun=All&fieldManager=kubectl-albistio", "application/json", "{}", true},
		{"create", "POST", "https://api.example:6443/api/v1/namespaces/ns/secrets?fieldManager=kubectl-albistio", "application/json", "{}", false},
		{"merge patch", "PATCH", secretURL, "application/merge-patch+json", "{}", false},
		{"update", "PUT", secretURL, "application/json", "{}", false},
		{"delete with preconditions", "DELETE", secretURL, "application/json", pre, true},
		{"delete without", "DELETE", secretURL, "application/json", `{"kind":"DeleteOptions","apiVersion":"v1"}`, false},
		{"delete without a body", "DELETE", secretURL, "", "", false},
	} {
		if got := repeatable(request(t, ctx, c.method, c.url, c.ctype, c.body)); got != c.want {
			t.Errorf("%s: repeatable = %v, want %v", c.name, got, c.want)
		}
	}
}

// A GET whose connection was reset, then whose body was cut, is sent again
// until it gets its whole answer.
func TestRetryGetUntilAnswered(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	s := &script{steps: []func(*http.Request) (*http.Response, error){
		ok("warm-up"),
		fail(&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}),
		cutBody(`{"kind":"Sec`),
		ok(`{"kind":"Secret"}`),
	}}
	rt := testTransport(s, clock)
	if _, err := rt.RoundTrip(request(t, context.Background(), "GET", secretURL, "", "")); err != nil {
		t.Fatal(err)
	}
	resp, err := rt.RoundTrip(request(t, context.Background(), "GET", secretURL, "", ""))
	if err != nil {
		t.Fatalf("want the third attempt's answer, got %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != `{"kind":"Secret"}` || s.calls != 4 {
		t.Errorf("got %q after %d calls", b, s.calls)
	}
	if len(clock.slept) != 2 || clock.slept[0] != retryBase || clock.slept[1] != 2*retryBase {
		t.Errorf("want backoff %v then %v, slept %v", retryBase, 2*retryBase, clock.slept)
	}
}

// A create is never sent twice: the server may have created the object
// before the connection broke. Its cut body is still reported as a lost
// connection, not handed to client-go's decoder.
func TestCreateIsNeverRetried(t *testing.T) {
	for name, step := range map[string]func(*http.Request) (*http.Response, error){
		"reset":    fail(&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}),
		"cut body": cutBody(`{"kind":"Sec`),
		"refused":  fail(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}),
	} {
		clock := &fakeClock{t: time.Now()}
		s := &script{steps: []func(*http.Request) (*http.Response, error){step, ok("{}")}}
		rt := testTransport(s, clock)
		rt.answered.Store(true)
		_, err := rt.RoundTrip(request(t, context.Background(), "POST", "https://api.example:6443/api/v1/namespaces/ns/secrets?fieldManager=kubectl-albistio", "application/json", `{"kind":"Secret"}`))
		if err == nil || !IsTransient(err) {
			t.Errorf("%s: want the transient error, got %v", name, err)
		}
		if s.calls != 1 || len(clock.slept) != 0 {
			t.Errorf("%s: a create was sent %d times", name, s.calls)
		}
	}
}

// An apply's body is sent again, whole, on every attempt.
func TestRetryResendsTheBody(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	s := &script{steps: []func(*http.Request) (*http.Response, error){
		ok("warm-up"), fail(io.EOF), fail(io.ErrUnexpectedEOF), ok("{}"),
	}}
	rt := testTransport(s, clock)
	rt.RoundTrip(request(t, context.Background(), "GET", secretURL, "", ""))
	const body = `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"}}`
	if _, err := rt.RoundTrip(request(t, context.Background(), "PATCH", secretURL+"?fieldManager=kubectl-albistio", "application/apply-patch+yaml", body)); err != nil {
		t.Fatal(err)
	}
	if s.calls != 4 {
		t.Fatalf("want 3 attempts, got %d", s.calls-1)
	}
	for i, b := range s.bodies[1:] {
		if b != body {
			t.Errorf("attempt %d sent %q", i+1, b)
		}
	}
}

// The backoff ends inside the request's deadline (--request-timeout): the
// last attempt's error is returned, not a timeout that would hide it.
func TestRetryStopsAtTheDeadline(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	s := &script{steps: []func(*http.Request) (*http.Response, error){fail(refused)}}
	rt := testTransport(s, clock)
	rt.answered.Store(true)
	// The context's own deadline is far off in real time; the transport
	// measures it against the fake clock.
	ctx, cancel := context.WithDeadline(context.Background(), clock.t.Add(5*time.Second))
	defer cancel()
	_, err := rt.RoundTrip(request(t, ctx, "GET", secretURL, "", ""))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("want the refused connection, got %v", err)
	}
	var total time.Duration
	for _, d := range clock.slept {
		total += d
		if d > retryMax {
			t.Errorf("slept %v, more than retryMax %v", d, retryMax)
		}
	}
	if total >= 5*time.Second {
		t.Errorf("slept %v in all, past the 5s deadline (%v)", total, clock.slept)
	}
	if s.calls < 5 {
		t.Errorf("only %d attempts in 5s", s.calls)
	}

	// Without a deadline the retries stop after retryBudget.
	clock = &fakeClock{t: time.Now()}
	s = &script{steps: []func(*http.Request) (*http.Response, error){fail(refused)}}
	rt = testTransport(s, clock)
	rt.answered.Store(true)
	start := clock.t
	rt.RoundTrip(request(t, context.Background(), "GET", secretURL, "", ""))
	if elapsed := clock.t.Sub(start); elapsed >= retryBudget || elapsed < retryBudget/2 {
		t.Errorf("without a deadline the retries took %v, want just under %v", elapsed, retryBudget)
	}

	// A server that never answered gets firstContactBudget: likely down or
	// misnamed, and the user should hear so soon.
	clock = &fakeClock{t: time.Now()}
	s = &script{steps: []func(*http.Request) (*http.Response, error){fail(refused)}}
	rt = testTransport(s, clock)
	start = clock.t
	rt.RoundTrip(request(t, context.Background(), "GET", secretURL, "", ""))
	if elapsed := clock.t.Sub(start); elapsed >= firstContactBudget || s.calls < 3 {
		t.Errorf("a server never reached was tried %d times in %v, want a few in under %v", s.calls, elapsed, firstContactBudget)
	}
}

// Errors that no retry fixes, and a cancelled run, are returned at once.
func TestNoRetryOfPermanentErrors(t *testing.T) {
	for name, err := range map[string]error{
		"certificate": errors.New("tls: failed to verify certificate: x509: certificate signed by unknown authority"),
		"cancelled":   context.Canceled,
	} {
		clock := &fakeClock{t: time.Now()}
		s := &script{steps: []func(*http.Request) (*http.Response, error){fail(err)}}
		rt := testTransport(s, clock)
		if _, got := rt.RoundTrip(request(t, context.Background(), "GET", secretURL, "", "")); !errors.Is(got, err) || s.calls != 1 {
			t.Errorf("%s: got %v after %d calls", name, got, s.calls)
		}
	}
	// Ctrl-C while waiting to retry ends the wait.
	ctx, cancel := context.WithCancel(context.Background())
	s := &script{steps: []func(*http.Request) (*http.Response, error){fail(io.EOF)}}
	rt := WrapRetry(s).(*retryTransport)
	rt.answered.Store(true)
	rt.sleep = func(ctx context.Context, d time.Duration) error { cancel(); return sleepCtx(ctx, d) }
	if _, err := rt.RoundTrip(request(t, ctx, "GET", secretURL, "", "")); err == nil || s.calls != 1 {
		t.Errorf("a cancelled wait: got %v after %d calls", err, s.calls)
	}
}

// Watches and upgrades (port-forward) are streams: passed through, their
// bodies not read ahead.
func TestStreamsPassThrough(t *testing.T) {
	for _, req := range []*http.Request{
		request(t, context.Background(), "GET", secretURL+"?watch=true", "", ""),
		func() *http.Request {
			r := request(t, context.Background(), "POST", "https://api.example:6443/api/v1/namespaces/ns/pods/p/portforward", "", "")
			r.Header.Set("Connection", "Upgrade")
			r.Header.Set("Upgrade", "SPDY/3.1")
			return r
		}(),
	} {
		s := &script{steps: []func(*http.Request) (*http.Response, error){cutBody("part")}}
		resp, err := testTransport(s, &fakeClock{}).RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", req.URL, err)
		}
		if _, err := io.ReadAll(resp.Body); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: the body was read ahead (%v)", req.URL, err)
		}
	}
}

// Through a real connection that the server drops mid-response twice, a GET
// arrives whole.
func TestRetryOverRealConnections(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			rw.Header().Set("Content-Length", "100")
			rw.WriteHeader(200)
			rw.Write([]byte(`{"kind":"Sec`))
			rw.(http.Flusher).Flush()
			conn, _, err := rw.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		rw.Write([]byte(`{"kind":"Secret"}`))
	}))
	defer srv.Close()
	rt := WrapRetry(&http.Transport{})
	rt.(*retryTransport).answered.Store(true)
	client := &http.Client{Transport: rt}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/namespaces/ns/secrets/s", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != `{"kind":"Secret"}` || n.Load() != 3 {
		t.Errorf("got %q after %d requests", b, n.Load())
	}
}

// What the retries could not fix is explained as a lost connection, exit 6;
// for a write, saying that whether it happened is unknown.
func TestExplainLostConnection(t *testing.T) {
	c := &Clients{Host: "https://c.example:6443"}
	lost := &url.Error{Op: "Post", URL: "https://c.example:6443/api/v1/namespaces/ns/secrets?fieldManager=kubectl-albistio", Err: &bodyError{err: io.ErrUnexpectedEOF}}
	err := c.Explain(lost, "create", Secrets, "ns", "s")
	var ke *Error
	if !errors.As(err, &ke) || ke.Code != ExitUnreachable || !strings.Contains(err.Error(), "lost the connection") || !strings.Contains(err.Error(), "unknown") {
		t.Errorf("create: got %v", err)
	}
	dry := &url.Error{Op: "Patch", URL: "https://c.example:6443/api/v1/namespaces/ns/secrets/s?dryRun=All", Err: io.EOF}
	if err := c.Explain(dry, "apply", Secrets, "ns", "s"); !errors.As(err, &ke) || ke.Code != ExitUnreachable || strings.Contains(err.Error(), "unknown") {
		t.Errorf("dry run: got %v", err)
	}
	// client-go's own wording, should a body error ever reach it.
	raw := fmt.Errorf("unexpected error when reading response body. Please retry. Original error: %w", io.ErrUnexpectedEOF)
	if err := c.Explain(raw, "get", Secrets, "ns", "s"); !errors.As(err, &ke) || ke.Code != ExitUnreachable {
		t.Errorf("client-go's body error: got %v (%T)", err, err)
	}
}

// A bad --request-timeout is a usage error naming the flag, not a kubeconfig
// problem.
func TestCheckRequestTimeout(t *testing.T) {
	for _, v := range []string{"", "0", "30", "20s", "2m"} {
		if err := checkRequestTimeout(v); err != nil {
			t.Errorf("%q: %v", v, err)
		}
	}
	for _, v := range []string{"abc", "-5s", "5x"} {
		err := checkRequestTimeout(v)
		var ke *Error
		if !errors.As(err, &ke) || ke.Code != ExitUsage || !strings.Contains(err.Error(), "--request-timeout") {
			t.Errorf("%q: got %v", v, err)
		}
	}
}

// The clients of one run (dynamic, discovery) share what they know of the
// server: once one had an answer, another's first request has the full
// budget, not the first-contact one.
func TestClientsShareFirstContact(t *testing.T) {
	wrap := retryWrapper()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	discovery := wrap(&script{steps: []func(*http.Request) (*http.Response, error){ok("{}")}}).(*retryTransport)
	if _, err := discovery.RoundTrip(request(t, context.Background(), "GET", secretURL, "", "")); err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Now()}
	s := &script{steps: []func(*http.Request) (*http.Response, error){fail(refused)}}
	dynamic := wrap(s).(*retryTransport)
	dynamic.now, dynamic.sleep = clock.now, clock.sleep
	dynamic.jitter = func(d time.Duration) time.Duration { return d }
	start := clock.t
	dynamic.RoundTrip(request(t, context.Background(), "GET", secretURL, "", ""))
	if elapsed := clock.t.Sub(start); elapsed < firstContactBudget {
		t.Errorf("retried for %v only: the other client's answer was not shared", elapsed)
	}
}

// TestRetryTransportIsAWrapper: client-go cancels a timed-out request through
// the wrapped transport; a wrapper it cannot see through makes it log
// "Warning: unable to cancel request" on stderr.
func TestRetryTransportIsAWrapper(t *testing.T) {
	inner := http.DefaultTransport
	var rt http.RoundTripper = &retryTransport{next: inner}
	w, ok := rt.(interface{ WrappedRoundTripper() http.RoundTripper })
	if !ok || w.WrappedRoundTripper() != inner {
		t.Fatal("the retry transport must expose the transport it wraps")
	}
}
