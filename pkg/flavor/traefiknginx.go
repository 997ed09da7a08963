package flavor

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/albistio/kubectl-albistio/pkg/chain"
)

// IKS's Traefik ALB can serve nginx-annotated Ingresses through Traefik's
// own ingress-nginx provider (its "compatibility layer", switched on per
// ALB in kube-system/ibm-ingress-deploy-config). It is a form of the nginx
// flavor, not a flavor of its own: the plugin writes the same Ingress, and
// Traefik reads the same annotations with other semantics, which changed
// between Traefik releases. TraefikNginx is that reading at one version.

// TraefikVersion is Traefik's major.minor.patch.
type TraefikVersion [3]int

func (v TraefikVersion) String() string { return fmt.Sprintf("v%d.%d.%d", v[0], v[1], v[2]) }

// Less orders versions.
func (v TraefikVersion) Less(o TraefikVersion) bool { return slices.Compare(v[:], o[:]) < 0 }

// ParseTraefikVersion reads the version of an image reference whose tag is
// "3.X.X_XXXX_iks" (IKS) or "v3.X.X" / "3.X.X" (upstream); nil when the tag
// is not a version.
func ParseTraefikVersion(image string) *TraefikVersion {
	i := strings.LastIndex(image, ":")
	if i < 0 || strings.Contains(image[i:], "/") {
		return nil
	}
	tag := strings.TrimPrefix(image[i+1:], "v")
	tag, _, _ = strings.Cut(tag, "_")
	tag, _, _ = strings.Cut(tag, "-")
	parts := strings.Split(tag, ".")
	if len(parts) != 3 {
		return nil
	}
	var v TraefikVersion
	for j, s := range parts {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil
		}
		v[j] = n
	}
	return &v
}

// TraefikNginx is Traefik's ingress-nginx provider at Version, reading the
// nginx flavor's annotations.
type TraefikNginx struct{ Version TraefikVersion }

// SkipsVerify says whether the provider turns proxy-ssl-verify (value,
// set) into InsecureSkipVerify (Traefik's
// pkg/provider/kubernetes/ingress-nginx): v3.5.0–v3.6.2 skip on "on";
// v3.6.3–v3.6.10 skip on "off" or when unset; from v3.6.11 every value but
// "on" (lower-cased) skips, as in ingress-nginx.
func (t TraefikNginx) SkipsVerify(value string, set bool) bool {
	switch {
	case t.Version.Less(TraefikVersion{3, 6, 3}):
		return value == "on"
	case t.Version.Less(TraefikVersion{3, 6, 11}):
		return !set || value == "off"
	}
	return strings.ToLower(value) != "on"
}

// RefusesCrossNamespace says whether the provider refuses a
// proxy-ssl-secret of another namespace than the Ingress's (v3.7.0+).
func (t TraefikNginx) RefusesCrossNamespace() bool { return !t.Version.Less(TraefikVersion{3, 7, 0}) }

// UpstreamTLS reads the nginx annotations as the provider does: the server
// name is proxy-ssl-name, else the value of proxy-ssl-server-name (a
// fallback that sends "on" as the name); it sends that name as SNI
// whatever proxy-ssl-server-name says; verification as SkipsVerify; no
// verify depth (it ignores proxy-ssl-verify-depth); the client certificate
// and CA from proxy-ssl-secret, as ingress-nginx.
func (t TraefikNginx) UpstreamTLS(p *chain.Params, st Stored) UpstreamTLS {
	u := nginx{}.UpstreamTLS(p, st)
	ing := st.Ingress
	if ing == nil {
		return u
	}
	a := ing.Annotations
	name, nameSet := a[NginxProxySSLName]
	if sni, sniSet := a[NginxProxySSLServerName]; (!nameSet || name == "") && sniSet {
		u.ServerName.Value, u.ServerName.Known, u.ServerName.Fallback = sni, true, true
	}
	u.SNI = Switch{Known: true, On: true}
	verify, verifySet := a[NginxProxySSLVerify]
	u.Verify = Switch{Known: true, On: !t.SkipsVerify(verify, verifySet)}
	if !u.Verify.On {
		u.Verify.Said = fmt.Sprintf("off (Traefik %s reads proxy-ssl-verify %s as skip verification)", t.Version, quote(verify))
	}
	u.Depth = Depth{Unlimited: true}
	return u
}
