package cmd

import (
	"encoding/base64"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// annotationRedacted names, on a printed Secret, what was left out of it
// because it holds a private key: data keys by their name (e.g. "tls.key"),
// annotations as "metadata.annotations[<name>]", comma-separated.
const annotationRedacted = "albistio.io/redacted"

// privateKeyNames are the data keys that hold a private key in the Secrets
// the plugin writes: tls.key of kubernetes.io/tls (the CA, the ALB TLS copy,
// alb-certs for nginx and Traefik) and the classic ALB's client.key. They are
// left out by name, whatever their value, so that a key in a format the PEM
// test below does not recognise is not printed either.
var privateKeyNames = map[string]bool{corev1.TLSPrivateKeyKey: true, "client.key": true}

// pemPrivateKey ends every PEM private key line, BEGIN and END, whatever the
// format (PRIVATE KEY, EC/RSA/OPENSSH/ENCRYPTED PRIVATE KEY): matching it
// alone, rather than a whole block, also catches a truncated or odd block.
const pemPrivateKey = "PRIVATE KEY-----"

// redactPrivateKeys returns the copy of u to print: u itself unless it is a
// Secret holding a private key, else a deep copy without it, so the object
// that is (or was) applied keeps its keys.
//
// The key is dropped, not replaced by a placeholder: a placeholder is a
// value, and applying the printed stream (the README offers it for GitOps)
// would write it over the real key in the cluster. A dropped field is never
// written: the API server refuses a kubernetes.io/tls Secret without
// tls.key (data[tls.key]: Required value), so the printed CA and ALB TLS copy
// cannot be applied by accident, and an Opaque one applied over the Secret in
// the cluster leaves its key alone (kubectl apply removes only fields it
// applied itself). The albistio.io/redacted annotation says what is missing,
// so an incomplete-looking Secret explains itself.
func redactPrivateKeys(u *unstructured.Unstructured) *unstructured.Unstructured {
	if u == nil || u.GetKind() != "Secret" || u.GroupVersionKind().Group != "" {
		return u
	}
	var removed []string
	out := u.DeepCopy()
	for _, field := range []string{"data", "stringData"} {
		values, ok := out.Object[field].(map[string]any)
		if !ok {
			continue
		}
		for k, v := range values {
			s, _ := v.(string)
			if privateKeyNames[k] || holdsPrivateKey(s, field == "data") {
				delete(values, k)
				removed = append(removed, k)
			}
		}
	}
	annotations := out.GetAnnotations()
	for k, v := range annotations {
		// kubectl apply's last-applied-configuration of a Secret is a copy of
		// its data, keys included, base64 inside JSON: it goes whatever it
		// holds, as does any annotation holding a PEM key.
		if k == corev1.LastAppliedConfigAnnotation || holdsPrivateKey(v, false) {
			delete(annotations, k)
			removed = append(removed, "metadata.annotations["+k+"]")
		}
	}
	if len(removed) == 0 {
		return u
	}
	sort.Strings(removed)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[annotationRedacted] = strings.Join(removed, ",")
	out.SetAnnotations(annotations)
	return out
}

// holdsPrivateKey says whether v holds a PEM private key, as text or, for
// Secret data, base64-encoded. A data value that is not valid base64 is
// checked as text.
func holdsPrivateKey(v string, base64Encoded bool) bool {
	if strings.Contains(v, pemPrivateKey) {
		return true
	}
	if base64Encoded {
		if b, err := base64.StdEncoding.DecodeString(v); err == nil {
			return strings.Contains(string(b), pemPrivateKey)
		}
	}
	return false
}
