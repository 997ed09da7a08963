package check

import (
	"crypto/x509"
	"fmt"

	"github.com/albistio/kubectl-albistio/pkg/certs"
	"github.com/albistio/kubectl-albistio/pkg/flavor"
)

// checkServerTrust: the gateway's server chain (its credential: the IKS
// secret, or in cert-manager mode the hop's server secret) verifies for
// server auth against what the ALB trusts (the client secret's ca.crt), and
// the ALB's verify depth reaches the chain's anchor (depth 1 for the hop's
// CA, which signs the server certificate itself). The name the ALB verifies is the server-name rule's job.
func checkServerTrust(in *Input) []Finding {
	s := in.Snapshot
	cred := in.credentialSecret()
	gw := in.gatewayPair()
	roots := in.ALBTrust()
	if gw == nil || len(roots) == 0 {
		return nil // the secrets rule reports what is missing
	}
	_, _, trustKey := in.ClientKeys()
	path, err := certs.VerifyChain(gw.Chain, roots, x509.ExtKeyUsageServerAuth, "", in.Now)
	if err != nil {
		if presentedInvalid(err, gw.Chain) {
			return nil
		}
		fix := "re-run kubectl albistio secrets: it puts the root of the gateway's chain into the client secret's " + trustKey
		if in.certManager() {
			p := in.Params
			fix = fmt.Sprintf("the Certificates %s and %s must both be issued by the CA Issuer %s, whose CA cert-manager puts into the client secret's ca.crt: re-run kubectl albistio setup", p.ClientSecret, p.HopServerSecret(), p.CASecret)
		} else if _, aerr := certs.TrustAnchor(gw.Chain, in.ExtraRoots); aerr != nil {
			fix = "re-run kubectl albistio secrets --ca-file <root certificate of the gateway's chain>: the root is not one of the bundled ISRG roots"
		}
		return []Finding{NewFinding(ServerCertUntrusted, secretRef(s.ClientSecret), dataField(trustKey),
			fmt.Sprintf("the ALB verifies the gateway with the CA certificates here, and the gateway's chain (Secret %s/%s) does not verify against them, so the ALB drops the connection (502): %v", cred.Namespace, cred.Name, err),
			fix)}
	}
	need := max(len(path)-1, 1)
	depth, ok := configuredDepth(in)
	if !ok || depth.value >= need {
		return nil
	}
	return []Finding{NewFinding(VerifyDepthTooShort, depth.object, depth.field,
		fmt.Sprintf("%s; the gateway's chain needs %d (%d CA certificates follow the leaf, up to the root %q), so verification fails with \"certificate chain too long\" and the ALB answers 502",
			depth.said, need, need, path[len(path)-1].Subject.CommonName),
		fmt.Sprintf("set %s to %d (kubectl albistio ingress computes it from the gateway's chain)", depth.setting, need))}
}

// verifyDepth is the verify depth the ALB is configured with, and where.
type verifyDepth struct {
	value         int
	object, field string
	said, setting string
}

// configuredDepth is the ALB's verify depth as the flavor's controller
// reads it (flavor.UpstreamTLS); Traefik (Go's verifier) has no depth
// limit, and nginx's depth is moot while verification is off (the nginx
// rule reports that).
func configuredDepth(in *Input) (verifyDepth, bool) {
	u, ok := in.upstreamTLS()
	if !ok || !u.Depth.Known {
		return verifyDepth{}, false
	}
	d := u.Depth
	return verifyDepth{value: d.Value, object: flavorRef(d.Object), field: d.Field, said: d.Said, setting: d.Setting}, true
}

// annotationField names an annotation as a field path.
func annotationField(key string) string { return flavor.AnnotationField(key) }
