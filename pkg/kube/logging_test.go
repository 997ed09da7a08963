package kube

import (
	"context"
	"errors"
	"testing"

	"github.com/go-logr/logr/funcr"
	"k8s.io/klog/v2"
)

// Bodies are logged by client-go at V(8) through the request context's
// logger; the capped logger must drop them whatever the base verbosity.
func TestRedactedRequestLogs(t *testing.T) {
	var lines []string
	base := funcr.New(func(prefix, args string) { lines = append(lines, args) }, funcr.Options{Verbosity: 10})
	ctx := WithRedactedRequestLogs(klog.NewContext(context.Background(), base))
	l := klog.FromContext(ctx)
	l.V(6).Info("Request", "url", "https://example/api/v1/namespaces/x/secrets/y")
	l.V(7).Info("Response", "status", "200 OK")
	l.V(8).Info("Response Body", "body", `{"data":{"tls.key":"LS0tLS1CRUdJTi"}}`)
	l.WithValues("k", "v").V(9).Info("Request Body", "body", "secret")
	if l.V(8).Enabled() {
		t.Error("V(8) must not be enabled: client-go checks it before logging bodies")
	}
	if len(lines) != 2 {
		t.Fatalf("want the two lines up to V(7), got %q", lines)
	}
}

// client-go's error lines ("E1201 ... request.go ...] Unexpected error when
// reading response body") stay off stderr at the default verbosity, where
// the plugin's own error line reports the failure, and appear from -v=1.
func TestClientErrorLinesNeedVerbosity(t *testing.T) {
	for verbosity, want := range map[int]int{0: 0, MinErrorLogLevel: 1, 6: 1} {
		var lines []string
		base := funcr.New(func(prefix, args string) { lines = append(lines, args) }, funcr.Options{Verbosity: verbosity})
		l := klog.FromContext(WithRedactedRequestLogs(klog.NewContext(context.Background(), base)))
		l.Error(errors.New("unexpected EOF"), "Unexpected error when reading response body")
		if len(lines) != want {
			t.Errorf("-v=%d: want %d error lines, got %q", verbosity, want, lines)
		}
	}
}
