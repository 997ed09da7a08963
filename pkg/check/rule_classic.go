package check

import (
	"fmt"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/flavor"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// checkClassic: the legacy IBM ALB re-encrypts to a Service only when its
// ingress.bluemix.net/ssl-services annotation names it, with the client
// secret as ssl-secret.
func checkClassic(in *Input) []Finding {
	s, p := in.Snapshot, in.Params
	if p.Flavor != chain.FlavorClassic || s.Ingress == nil {
		return nil
	}
	obj := ObjectRef("Ingress", s.Ingress.Namespace, s.Ingress.Name)
	field := annotationField(render.ClassicSSLServices)
	fix := "re-run kubectl albistio ingress --alb-flavor=classic"
	svc, ok := classicService(in)
	switch {
	case !ok:
		return []Finding{NewFinding(ClassicSSLServicesWrong, obj, field,
			fmt.Sprintf("no ssl-services entry has ssl-service=%s: the ALB speaks plain HTTP to the gateway's TLS port", p.GatewayService), fix)}
	case svc["ssl-secret"] != p.ClientSecret:
		return []Finding{NewFinding(ClassicSSLServicesWrong, obj, field,
			fmt.Sprintf("the entry for %s has ssl-secret=%s, not --client-secret %q: the ALB presents another client certificate, or none", p.GatewayService, quote(svc["ssl-secret"]), p.ClientSecret), fix)}
	}
	return nil
}

// classicService is the gateway Service's entry of the ssl-services
// annotation (flavor.ClassicEntry).
func classicService(in *Input) (map[string]string, bool) {
	ing := in.Snapshot.Ingress
	if ing == nil {
		return nil, false
	}
	return flavor.ClassicEntry(ing.Annotations[render.ClassicSSLServices], in.Params.GatewayService)
}
