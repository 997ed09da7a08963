package kube

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/klog/v2"
)

// Retrying transient faults.
//
// A connection to the API server can break between any two bytes: a load
// balancer in front of the control plane refuses or drops a connection, the
// API server restarts, a proxy cuts a response short. client-go retries only
// GETs whose connection broke before the response arrived, never a response
// cut mid-body and never a write, so one such fault used to end a setup with
// "unexpected error when reading response body. Please retry". retryTransport
// retries, within the request's deadline, every request that is safe to send
// twice, and reads each response's body before handing it on, so that a body
// cut short is a transport error the retry can see (and, for a request that
// may not be retried, an error Explain recognises as a lost connection).
const (
	// retryBudget bounds the retries of one request that has no deadline
	// (no --request-timeout): a fault that lasts longer is an outage.
	retryBudget = 10 * time.Second
	// firstContactBudget bounds them while the API server has not answered
	// once in this run: a server that refuses the first connection is more
	// likely down or misnamed in the kubeconfig than briefly flaky, and the
	// user should hear so without a 10-second wait.
	firstContactBudget = 2 * time.Second
	// retryBase and retryMax shape the exponential backoff between attempts.
	retryBase = 100 * time.Millisecond
	retryMax  = 2 * time.Second
)

// retryTransport wraps the transport client-go builds (installed through
// rest.Config.WrapTransport, below its auth and logging wrappers).
type retryTransport struct {
	next http.RoundTripper
	// answered is set once any response arrived: the server exists. The
	// clients of one run share it.
	answered *atomic.Bool
	// budget and firstBudget are retryBudget and firstContactBudget; sleep
	// and now are time's. Tests shorten and fake them.
	budget, firstBudget time.Duration
	sleep               func(context.Context, time.Duration) error
	now                 func() time.Time
	jitter              func(time.Duration) time.Duration
}

// WrapRetry returns rt wrapped so that requests safe to repeat are retried on
// transient transport faults, with a bounded backoff inside their deadline.
// It has the signature of rest.Config.WrapTransport's functions.
func WrapRetry(rt http.RoundTripper) http.RoundTripper {
	return retryWrapper()(rt)
}

// retryWrapper returns a WrapTransport function whose transports share what
// they learnt of the server: once the discovery client has had an answer,
// the dynamic client's first request is not a first contact.
func retryWrapper() func(http.RoundTripper) http.RoundTripper {
	answered := &atomic.Bool{}
	return func(rt http.RoundTripper) http.RoundTripper {
		return newRetryTransport(rt, answered)
	}
}

func newRetryTransport(rt http.RoundTripper, answered *atomic.Bool) *retryTransport {
	return &retryTransport{
		next: rt, answered: answered, budget: retryBudget, firstBudget: firstContactBudget,
		sleep: sleepCtx, now: time.Now,
		// Jitter in [d/2, d]: parallel clients hit by the same fault do
		// not come back in lockstep.
		jitter: func(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) },
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// RoundTrip sends req, and sends it again after a transient fault when it is
// safe to: see repeatable. Streams (watches, upgrades to SPDY or WebSocket
// for port-forward) pass through untouched.
// WrappedRoundTripper lets client-go reach the transport underneath, to
// cancel a request that timed out (k8s.io/apimachinery's
// RoundTripperWrapper); without it client-go logs "unable to cancel request"
// on stderr at every verbosity.
func (t *retryTransport) WrappedRoundTripper() http.RoundTripper { return t.next }

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if isStream(req) {
		return t.next.RoundTrip(req)
	}
	if !repeatable(req) {
		return t.once(req)
	}
	ctx := req.Context()
	start := t.now()
	deadline, hasDeadline := ctx.Deadline()
	for attempt := 0; ; attempt++ {
		r := req
		if attempt > 0 {
			var err error
			if r, err = resend(req); err != nil {
				return nil, err
			}
		}
		resp, err := t.once(r)
		if err == nil || !IsTransient(err) || ctx.Err() != nil {
			return resp, err
		}
		// With --request-timeout the request may use all of it: the user
		// chose how long a request may take.
		limit := start.Add(t.budget)
		if hasDeadline {
			limit = deadline
		}
		if first := start.Add(t.firstBudget); !t.answered.Load() && first.Before(limit) {
			limit = first
		}
		wait := t.jitter(min(retryBase<<min(attempt, 16), retryMax))
		if !t.now().Add(wait).Before(limit) {
			// Another attempt would not finish in time: report the fault
			// itself rather than a timeout, which would hide what happened.
			return nil, err
		}
		klog.FromContext(ctx).V(4).Info("Retrying after a transient fault", "verb", req.Method, "url", req.URL.String(), "attempt", attempt+1, "delay", wait, "err", err)
		if serr := t.sleep(ctx, wait); serr != nil {
			return nil, err
		}
	}
}

// once makes one attempt and reads the whole response body, so that a body
// cut short surfaces here as an error rather than in client-go's decoder.
// The plugin's responses are single objects and small lists.
func (t *retryTransport) once(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	t.answered.Store(true)
	if resp.StatusCode == http.StatusSwitchingProtocols || resp.Body == nil || resp.Body == http.NoBody {
		return resp, nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, &bodyError{err: err}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// bodyError is a response whose body broke off: the connection was lost
// after the server had answered (and, for a write, perhaps acted).
type bodyError struct{ err error }

func (e *bodyError) Error() string {
	return "the connection broke while reading the response: " + e.err.Error()
}
func (e *bodyError) Unwrap() error { return e.err }

// isStream tells requests whose response is open-ended: a watch, a
// followed log, or a protocol upgrade (port-forward's SPDY or WebSocket).
func isStream(req *http.Request) bool {
	if req.Header.Get("Upgrade") != "" || strings.Contains(strings.ToLower(req.Header.Get("Connection")), "upgrade") {
		return true
	}
	q := req.URL.Query()
	return q.Get("watch") == "true" || q.Get("watch") == "1" || q.Get("follow") == "true"
}

// repeatable says whether sending req twice has the effect of sending it
// once, so a fault that leaves unknown whether the server acted may be met by
// sending it again:
//   - reads (GET, HEAD), which change nothing;
//   - dry runs, which persist nothing;
//   - server-side applies: applying the same configuration twice yields the
//     same object (and one with a resourceVersion precondition fails the
//     second time with a conflict the caller already treats as a race, then
//     re-reads);
//   - deletes with preconditions, which remove that one object at most once
//     (a repeat finds it gone: NotFound, which cleanup counts as deleted).
//
// Never a create (POST) or an update: a create the server performed before
// the fault would be answered "already exists" by its repeat, and the
// private CA and the hop's Gateway are created exactly once on purpose.
// Their failures are reported (exit 6 or 7) for a re-run to converge.
func repeatable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		return true
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false // the body cannot be sent twice
	}
	if req.URL.Query().Has("dryRun") {
		return true
	}
	switch req.Method {
	case http.MethodPatch:
		return strings.HasPrefix(req.Header.Get("Content-Type"), "application/apply-patch")
	case http.MethodDelete:
		return hasPreconditions(req)
	}
	return false
}

// hasPreconditions reads a DELETE's DeleteOptions from a copy of its body.
func hasPreconditions(req *http.Request) bool {
	if req.GetBody == nil {
		return false
	}
	b, err := req.GetBody()
	if err != nil {
		return false
	}
	defer b.Close()
	var opts struct {
		Preconditions *struct {
			UID             *string `json:"uid"`
			ResourceVersion *string `json:"resourceVersion"`
		} `json:"preconditions"`
	}
	if json.NewDecoder(io.LimitReader(b, 1<<20)).Decode(&opts) != nil || opts.Preconditions == nil {
		return false
	}
	return opts.Preconditions.UID != nil && *opts.Preconditions.UID != "" ||
		opts.Preconditions.ResourceVersion != nil && *opts.Preconditions.ResourceVersion != ""
}

// resend copies req with a fresh body for another attempt.
func resend(req *http.Request) (*http.Request, error) {
	r := req.Clone(req.Context())
	if req.Body == nil || req.Body == http.NoBody {
		return r, nil
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, fmt.Errorf("cannot send the request again: %w", err)
	}
	r.Body = body
	return r, nil
}

// IsTransient says whether err is a connection fault that a repeat of the
// same request may not meet: refused or reset connections, a connection
// closed before or during the response (EOF, unexpected EOF, broken pipe),
// an HTTP/2 GOAWAY or lost connection, a TLS handshake that timed out. Not a
// cancelled or expired context, not a certificate or DNS error: those stay
// wrong however often they are tried.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	if utilnet.IsProbableEOF(err) || utilnet.IsHTTP2ConnectionLost(err) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{
		"connection refused", "connection reset by peer", "broken pipe",
		"http2: server sent GOAWAY", "http2: client connection lost", "http2: client connection force closed",
		"TLS handshake timeout", "unexpected EOF",
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
