package check

import "strings"

// hostMatches reports whether pattern, a host as Gateways, VirtualServices
// and Ingresses write them ("*", "*.example.com" or a plain name), covers
// host. Names compare case-insensitively; a wildcard covers any name below
// its suffix.
func hostMatches(pattern, host string) bool {
	pattern, host = strings.ToLower(pattern), strings.ToLower(host)
	switch {
	case pattern == "*":
		return true
	case strings.HasPrefix(pattern, "*."):
		return strings.HasSuffix(host, pattern[1:]) && len(host) > len(pattern)-1
	}
	return pattern == host
}

// hostListed reports whether any pattern in list covers host.
func hostListed(list []string, host string) bool {
	for _, pattern := range list {
		if hostMatches(pattern, host) {
			return true
		}
	}
	return false
}

// hostsIntersect reports whether two host patterns can match a common name,
// which is how Istio decides whether a VirtualService host belongs to a
// Gateway server.
func hostsIntersect(a, b string) bool {
	return hostMatches(a, b) || hostMatches(b, a)
}

// gatewayHosts strips the "namespace/" prefix Gateway hosts may carry
// ("*/", "./", "httptools/"); the prefix restricts which namespaces'
// VirtualServices bind, and the chain's VirtualService lives in the
// Gateway's own namespace, which every prefix the plugin writes admits.
func gatewayHosts(hosts []string) []string {
	out := make([]string, len(hosts))
	for i, h := range hosts {
		if _, after, ok := strings.Cut(h, "/"); ok {
			h = after
		}
		out[i] = h
	}
	return out
}
