package kube

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// A request cut short by Ctrl-C or SIGTERM (the command's context cancelled)
// is not a network failure: it must not send the user looking for one, nor
// exit with the code scripts read as "unreachable".
func TestExplainInterrupted(t *testing.T) {
	c := &Clients{Host: "https://c.example:6443"}
	cause := fmt.Errorf("interrupt signal received: %w", context.Canceled)
	err := c.Explain(&url.Error{Op: "Get", URL: "https://c.example:6443/api/v1/namespaces/ns/secrets/s", Err: cause}, "get", Secrets, "ns", "s")
	var ke *Error
	if !errors.As(err, &ke) || ke.Code != ExitError {
		t.Fatalf("want exit %d, got %v (%T)", ExitError, err, err)
	}
	if msg := err.Error(); msg != "interrupted while trying to get secrets s in namespace ns" {
		t.Errorf("got %q", msg)
	}

	// A deadline is still a timeout, and a refused connection still unreachable.
	err = c.Explain(&url.Error{Op: "Get", URL: "https://c.example:6443/", Err: context.DeadlineExceeded}, "get", Secrets, "ns", "s")
	if !errors.As(err, &ke) || ke.Code != ExitUnreachable || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("deadline: got %v", err)
	}
	err = c.Explain(&url.Error{Op: "Get", URL: "https://c.example:6443/", Err: errors.New("dial tcp: connection refused")}, "get", Secrets, "ns", "s")
	if !errors.As(err, &ke) || ke.Code != ExitUnreachable || !strings.Contains(err.Error(), "cannot reach") {
		t.Errorf("refused: got %v", err)
	}
}
