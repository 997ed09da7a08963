package check

import (
	"crypto/x509"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/albistio/kubectl-albistio/pkg/certs"
	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/identity"
)

// checkCopies: what `secrets` copied still matches its source. Each copy
// records its source ("namespace/name") and the SHA-256 of the source's
// chain at copy time; IKS renews its certificates in place, so a copy whose
// recorded hash differs from the source's current one is stale. A source
// that is missing or unusable is not compared: other rules say why, and
// re-copying it would not help.
func checkCopies(in *Input) []Finding {
	s, p := in.Snapshot, in.Params
	albRef := p.ALBSecretNamespace + "/" + p.ALBSecret
	caRef := p.IstioNamespace + "/" + p.CASecret

	// current is the fingerprint a copy of ref would carry now.
	current := func(ref string) (string, bool) {
		var chainNow []*x509.Certificate
		switch ref {
		case albRef:
			if kp := in.albPair(); kp != nil {
				chainNow = kp.Chain
			}
		case caRef:
			if c := in.caCert(); c != nil {
				chainNow = []*x509.Certificate{c}
			}
		}
		if len(chainNow) == 0 || certs.CheckValidity(chainNow[0], in.Now) != nil {
			return "", false
		}
		return identity.Fingerprint(chainNow), true
	}

	var fs []Finding
	judge := func(sec *corev1.Secret, code Code, what string, sources ...string) {
		if sec == nil {
			return
		}
		src, hash := sec.Annotations[chain.AnnotationSource], sec.Annotations[chain.AnnotationSourceHash]
		if src == "" && hash == "" {
			fs = append(fs, newFinding(CopyUnannotated, secretRef(sec), "metadata.annotations",
				fmt.Sprintf("%s carries no %s annotation, so it was not written by kubectl albistio (the walkthrough's kubectl create secret makes such secrets) and check cannot tell whether it still matches its source", what, chain.AnnotationSource),
				"run kubectl albistio secrets to take it over; it then records its source and keeps it current"))
			return
		}
		if !slices.Contains(sources, src) {
			fs = append(fs, newFinding(code, secretRef(sec), annotationField(chain.AnnotationSource),
				fmt.Sprintf("%s was copied from %s, which is not this chain's source (%s)", what, quote(src), joinQuoted(sources)),
				"re-run kubectl albistio secrets with this chain's parameters"))
			return
		}
		now, ok := current(src)
		if !ok || now == hash {
			return
		}
		fs = append(fs, newFinding(code, secretRef(sec), annotationField(chain.AnnotationSourceHash),
			fmt.Sprintf("%s was written from %s when that chain had SHA-256 %s; it now has %s: the source was renewed (IKS renews in place) and this secret was not updated, so it keeps the old material until that expires", what, src, short(hash), short(now)),
			"re-run kubectl albistio secrets: it writes the secret from the current source"))
	}

	judge(s.ClientSecret, ClientSecretStale, "the ALB's client certificate", albRef, caRef)
	judge(s.CACert, CACertStale, "the gateway's client CA", albRef, caRef)
	if in.separateIngressTLS() {
		judge(s.IngressTLSSecret, ALBTLSCopyStale, "the Ingress's copy of the ALB certificate", albRef)
	}
	return fs
}

// short abbreviates a hex fingerprint for messages.
func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}
