package check

import (
	"fmt"
	"strings"

	"github.com/albistio/kubectl-albistio/pkg/render"
)

// checkIstioAPI: the cluster must serve Istio's networking API, preferably
// at v1. Without the group at all, one finding says so and the Gateway and
// VirtualService rules stay silent rather than report them missing.
func checkIstioAPI(in *Input) []Finding {
	s := in.Snapshot
	if in.Params.GatewayAPI {
		return nil // Gateway API mode reads no networking.istio.io object; the gateway-api rule judges its API
	}
	obj := ObjectRef("APIGroup", "", render.IstioGroup)
	switch {
	case s.IstioServed == nil:
		return []Finding{NewFinding(IstioMissing, obj, "",
			"the cluster does not serve "+render.IstioGroup+": Istio's CRDs are not installed, so there is no Gateway or VirtualService for the ALB to reach",
			"install Istio (on IKS: ibmcloud ks cluster addon enable istio --cluster <name>), then re-run check")}
	case s.IstioVersion == "":
		return []Finding{NewFinding(IstioTooOld, obj, "",
			fmt.Sprintf("%s serves only %s; the plugin reads and writes v1 or v1beta1 (Istio 1.5 or later)", render.IstioGroup, strings.Join(s.IstioServed, ", ")),
			"upgrade Istio to a supported release (IKS managed Istio ships 1.28 or later)")}
	case s.IstioVersion != render.IstioVersions[0]:
		return []Finding{NewFinding(IstioV1NotServed, obj, "",
			fmt.Sprintf("%s/v1 is not served (served: %s), so Istio is older than 1.22 and out of support; the Gateway and VirtualService were read as %s", render.IstioGroup, strings.Join(s.IstioServed, ", "), s.IstioVersion),
			"upgrade Istio to a supported release (IKS managed Istio ships 1.28 or later)")}
	}
	return nil
}
