package flavor

import (
	"regexp"
	"strings"
)

// How ingress-nginx's release changes its reading of the chain's
// annotations. Checked in its source (kubernetes/ingress-nginx):
//
//   - internal/ingress/annotations/parser/validators.go, checkAnnotation:
//     with annotation validation on, a value its validator refuses is a
//     validation error;
//   - internal/ingress/annotations/proxyssl/main.go, Parse: a validation
//     error reading proxy-ssl-secret is returned as it is (the other
//     proxy-ssl-* annotations fall back to their defaults, as without
//     validation);
//   - internal/ingress/annotations/annotations.go, Extract: a validation
//     error from any parser drops the whole Ingress ("ingress contains
//     invalid annotation value"), where a bad value without validation only
//     denies the location (503 on its paths);
//   - pkg/flags/flags.go: --enable-annotation-validation defaults to false up
//     to v1.11.x and to true from controller-v1.12.0.
//
// So of the values the plugin writes, only proxy-ssl-secret's is read
// differently by release, and only when it has a character its validator
// (parser.BasicCharsRegex, spaces removed first) refuses: from v1.12.0 the
// Ingress goes unserved, before it the location is denied.

// Version is a release as major, minor, patch (the same type as
// Traefik's).
type Version = TraefikVersion

// AnnotationValidationSince is the first ingress-nginx release that
// validates annotation values by default.
var AnnotationValidationSince = Version{1, 12, 0}

// proxySSLSecretChars are the characters ingress-nginx's validator of
// proxy-ssl-secret accepts (BasicCharsRegex).
var proxySSLSecretChars = regexp.MustCompile(`^[/\-._~a-zA-Z0-9:]*$`)

// ProxySSLSecretValidates reports whether ingress-nginx's annotation
// validation accepts v as proxy-ssl-secret's value.
func ProxySSLSecretValidates(v string) bool {
	return proxySSLSecretChars.MatchString(strings.ReplaceAll(v, " ", ""))
}

// ParseIngressNginxVersion reads ingress-nginx's version from an IKS ALB
// image ("…:1.12.1_6557_iks") or an upstream one ("…:v1.12.1"); nil when
// the tag is no version of ingress-nginx (a Traefik ALB's 3.x, say).
func ParseIngressNginxVersion(image string) *Version {
	v := ParseTraefikVersion(image)
	if v == nil || v[0] != 1 {
		return nil
	}
	return v
}

// ValidatesAnnotations reports whether ingress-nginx v validates
// annotation values by default.
func ValidatesAnnotations(v Version) bool { return !v.Less(AnnotationValidationSince) }
