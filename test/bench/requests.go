// Package bench holds what the benchmarks (test/cmd/bench, `make bench`) and
// the request-count end-to-end test (test/e2e/requests_test.go) share: the
// parser of client-go's -v=6 request log, the loader that fills a test cluster
// with thousands of objects in other namespaces, a runner for kubectl and the
// plugin, a paired timer, and the binary-size breakdown.
package bench

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// Request is one API request as client-go logged it at -v=6.
type Request struct {
	Verb   string
	URL    string
	Status string
}

// client-go ≥ 0.30 (the plugin) logs one structured line per request:
//
//	I1129 09:41:25.935499 9252 round_trippers.go:632] "Response" verb="GET" url="https://127.0.0.1:36005/apis/networking.istio.io" status="200 OK" milliseconds=3
//
// kubectl 1.32's client-go logs the older form:
//
//	I1129 09:41:22.022074 9040 round_trippers.go:560] GET https://127.0.0.1:36005/apis/networking.k8s.io/v1/ingresses?limit=500 200 OK in 2 milliseconds
var (
	structuredLine = regexp.MustCompile(`"Response" verb="([A-Z]+)" url="([^"]+)" status="([^"]*)"`)
	classicLine    = regexp.MustCompile(`round_trippers\.go:\d+\] ([A-Z]+) (https?://\S+) (.*) in \d+ milliseconds$`)
)

// ParseRequests returns the requests in a -v=6 (or higher) log, in order.
// Each request is logged exactly once at -v=6, whatever its outcome.
func ParseRequests(log string) Requests {
	var out Requests
	for _, line := range strings.Split(log, "\n") {
		line = strings.TrimRight(line, "\r")
		if m := structuredLine.FindStringSubmatch(line); m != nil {
			out = append(out, Request{Verb: m[1], URL: m[2], Status: m[3]})
		} else if m := classicLine.FindStringSubmatch(line); m != nil {
			out = append(out, Request{Verb: m[1], URL: m[2], Status: m[3]})
		}
	}
	return out
}

// Target is what a request addresses, parsed from its URL path.
type Target struct {
	// Discovery is true for /api, /apis, /api/v1, /apis/<group>[/<version>]
	// and /openapi/...: requests that learn what the server serves.
	Discovery bool
	Group     string
	Version   string
	Namespace string
	Resource  string
	Name      string
	// Sub is a subresource (status, ...).
	Sub string
}

// Target parses the request's path.
func (r Request) Target() Target {
	u, err := url.Parse(r.URL)
	if err != nil {
		return Target{}
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	var t Target
	var rest []string
	switch {
	case len(parts) > 0 && parts[0] == "openapi":
		return Target{Discovery: true}
	case len(parts) > 0 && parts[0] == "api":
		if len(parts) <= 2 {
			return Target{Discovery: true}
		}
		t.Version, rest = parts[1], parts[2:]
	case len(parts) > 0 && parts[0] == "apis":
		if len(parts) <= 3 {
			return Target{Discovery: true}
		}
		t.Group, t.Version, rest = parts[1], parts[2], parts[3:]
	default:
		return Target{}
	}
	if len(rest) >= 3 && rest[0] == "namespaces" {
		t.Namespace, rest = rest[1], rest[2:]
	}
	t.Resource = rest[0]
	if len(rest) > 1 {
		t.Name = rest[1]
	}
	if len(rest) > 2 {
		t.Sub = strings.Join(rest[2:], "/")
	}
	return t
}

// IsCollectionRead says whether the request reads a collection (a LIST):
// a GET without an object name.
func (r Request) IsCollectionRead() bool {
	t := r.Target()
	return r.Verb == "GET" && !t.Discovery && t.Resource != "" && t.Name == ""
}

// Signature is the request without scheme and host, with the query sorted
// and the timeout parameter dropped: equal for equal requests of two runs.
func (r Request) Signature() string {
	u, err := url.Parse(r.URL)
	if err != nil {
		return r.Verb + " " + r.URL
	}
	q := u.Query()
	q.Del("timeout")
	s := r.Verb + " " + u.Path
	if enc := q.Encode(); enc != "" {
		s += "?" + enc
	}
	return s
}

func (t Target) String() string {
	if t.Discovery {
		return "discovery"
	}
	s := t.Resource
	if t.Group != "" {
		s += "." + t.Group
	}
	if t.Namespace != "" {
		s += " -n " + t.Namespace
	} else if t.Name == "" {
		s += " (all namespaces / cluster)"
	}
	return s
}

// Requests is the request log of one run.
type Requests []Request

// Discovery counts the discovery requests.
func (rs Requests) Discovery() int {
	n := 0
	for _, r := range rs {
		if r.Target().Discovery {
			n++
		}
	}
	return n
}

// Signatures returns the sorted signatures.
func (rs Requests) Signatures() []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Signature()
	}
	sort.Strings(out)
	return out
}

// String lists the requests, one a line.
func (rs Requests) String() string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "  %s %s\n", r.Signature(), r.Status)
	}
	return b.String()
}

// Unbounded returns the requests whose cost grows with the size of the
// cluster rather than with the chain: a LIST outside the given namespaces
// (across all namespaces, or of a cluster-scoped resource not in
// clusterScopedOK), and any request naming one of the forbidden namespaces.
func (rs Requests) Unbounded(namespaces []string, clusterScopedOK []string, forbiddenPrefixes []string) Requests {
	allowedNS := map[string]bool{}
	for _, n := range namespaces {
		allowedNS[n] = true
	}
	okCluster := map[string]bool{}
	for _, r := range clusterScopedOK {
		okCluster[r] = true
	}
	var out Requests
	for _, r := range rs {
		t := r.Target()
		bad := false
		for _, p := range forbiddenPrefixes {
			if t.Namespace != "" && strings.HasPrefix(t.Namespace, p) {
				bad = true
			}
			if t.Resource == "namespaces" && strings.HasPrefix(t.Name, p) {
				bad = true
			}
		}
		if r.IsCollectionRead() {
			switch {
			case t.Namespace == "" && !okCluster[t.Resource]:
				bad = true
			case t.Namespace != "" && !allowedNS[t.Namespace]:
				bad = true
			}
		}
		if bad {
			out = append(out, r)
		}
	}
	return out
}
