package chain

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// dnsLengthProblem checks the lengths RFC 1035 sets for a host name: at most
// 63 characters a label, 253 in all. IsDNS1123Subdomain checks only the
// total, and the API server takes a longer label in an Ingress host or a
// Gateway's hosts, which no resolver or certificate would then match.
func dnsLengthProblem(name string) string {
	if len(name) > validation.DNS1123SubdomainMaxLength {
		return fmt.Sprintf("is %d characters long: a DNS name is at most %d", len(name), validation.DNS1123SubdomainMaxLength)
	}
	for _, label := range strings.Split(name, ".") {
		if len(label) > validation.DNS1123LabelMaxLength {
			return fmt.Sprintf("has a label of %d characters: each dot-separated part of a DNS name is at most %d", len(label), validation.DNS1123LabelMaxLength)
		}
	}
	return ""
}
