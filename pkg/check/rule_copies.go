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
//
// In cert-manager mode the client secret and the CA are cert-manager's, not
// copies, and a -cacert is a leftover the cert-manager rule reports; a copy
// IKS keeps (ingress.cloud.ibm.com/cert-source: ibm) is IKS's to renew.
func checkCopies(in *Input) []Finding {
	s, p := in.Snapshot, in.Params
	albRef, caRef := in.albRef(), p.IstioNamespace+"/"+p.CASecret
	current := in.sourceFingerprint

	var fs []Finding
	judgeObject := func(ref string, annotations map[string]string, code Code, what string, sources ...string) {
		src, hash := annotations[chain.AnnotationSource], annotations[chain.AnnotationSourceHash]
		if src == "" && hash == "" {
			fs = append(fs, NewFinding(CopyUnannotated, ref, "metadata.annotations",
				fmt.Sprintf("%s carries no %s annotation, so it was not written by kubectl albistio (the walkthrough's kubectl create secret makes such secrets) and check cannot tell whether it still matches its source", what, chain.AnnotationSource),
				"run kubectl albistio secrets to take it over; it then records its source and keeps it current"))
			return
		}
		if !slices.Contains(sources, src) {
			fs = append(fs, NewFinding(code, ref, annotationField(chain.AnnotationSource),
				fmt.Sprintf("%s was copied from %s, which is not this chain's source (%s)", what, quote(src), joinQuoted(sources)),
				"re-run kubectl albistio secrets with this chain's parameters"))
			return
		}
		now, ok := current(src)
		if !ok || now == hash {
			return
		}
		fs = append(fs, NewFinding(code, ref, annotationField(chain.AnnotationSourceHash),
			fmt.Sprintf("%s was written from %s when that chain had SHA-256 %s; it now has %s: the source was renewed (IKS renews in place) and this secret was not updated, so it keeps the old material until that expires", what, src, short(hash), short(now)),
			"re-run kubectl albistio secrets: it writes the secret from the current source"))
	}
	judge := func(sec *corev1.Secret, code Code, what string, sources ...string) {
		if sec != nil {
			judgeObject(secretRef(sec), sec.Annotations, code, what, sources...)
		}
	}

	if !in.certManager() {
		judge(s.ClientSecret, ClientSecretStale, "the ALB's client certificate", albRef, caRef)
		if g := s.GatewayAPI; p.GatewayAPI {
			// The client CA is the ConfigMap the frontend validation
			// names; a -cacert left from the classic API is not read.
			if g != nil && g.ClientCA != nil && g.ClientCA.Name == p.ClientCAConfigMap() {
				judgeObject(ObjectRef("ConfigMap", g.ClientCA.Namespace, g.ClientCA.Name), g.ClientCA.Annotations, CACertStale, "the gateway's client CA", albRef, caRef)
			}
		} else {
			judge(s.CACert, CACertStale, "the gateway's client CA", albRef, caRef)
		}
	}
	if in.separateIngressTLS() && !identity.IKSManaged(s.IngressTLSSecret) {
		judge(s.IngressTLSSecret, ALBTLSCopyStale, "the Ingress's copy of the ALB certificate", albRef)
	}
	return fs
}

// albRef is the ALB secret as copies record their source.
func (in *Input) albRef() string { return in.Params.ALBSecretNamespace + "/" + in.Params.ALBSecret }

// sourceFingerprint is the fingerprint a copy of ref (the ALB secret or the
// private CA) would carry now; false when that source is missing, unusable
// or outside its validity (re-copying it would not help).
func (in *Input) sourceFingerprint(ref string) (string, bool) {
	var chainNow []*x509.Certificate
	switch ref {
	case in.albRef():
		if kp := in.albPair(); kp != nil {
			chainNow = kp.Chain
		}
	case in.Params.IstioNamespace + "/" + in.Params.CASecret:
		if c := in.caCert(); c != nil {
			chainNow = []*x509.Certificate{c}
		}
	}
	if len(chainNow) == 0 || certs.CheckValidity(chainNow[0], in.Now) != nil {
		return "", false
	}
	return identity.Fingerprint(chainNow), true
}

// staleCopy says whether sec records a copy of one of sources whose
// fingerprint is no longer the source's: what the copies rule reports.
func (in *Input) staleCopy(sec *corev1.Secret, sources ...string) bool {
	if sec == nil {
		return false
	}
	src, hash := sec.Annotations[chain.AnnotationSource], sec.Annotations[chain.AnnotationSourceHash]
	if !slices.Contains(sources, src) {
		return false
	}
	now, ok := in.sourceFingerprint(src)
	return ok && now != hash
}

// short abbreviates a hex fingerprint for messages.
func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}
