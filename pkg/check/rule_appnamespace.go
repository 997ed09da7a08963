package check

import "fmt"

// checkAppNamespace: the app's namespace exists and injects sidecars; the
// chain exists for mesh services, which the gateway reaches over Istio's
// mutual TLS only when they have a sidecar.
func checkAppNamespace(in *Input) []Finding {
	s, p := in.Snapshot, in.Params
	obj := ObjectRef("Namespace", "", p.AppNamespace)
	ns := s.AppNamespace
	if ns == nil {
		return []Finding{NewFinding(AppNamespaceMissing, obj, "",
			"the app's namespace does not exist, so neither do the Gateway, the VirtualService and the service the chain routes to",
			"pass -n with the namespace of the mesh service")}
	}
	injection, rev := ns.Labels["istio-injection"], ns.Labels["istio.io/rev"]
	if injection == "enabled" || (injection != "disabled" && rev != "") {
		return nil
	}
	why := "it has neither istio-injection=enabled nor an istio.io/rev label"
	if injection == "disabled" {
		why = "it is labelled istio-injection=disabled"
	}
	return []Finding{NewFinding(SidecarInjectionOff, obj, "metadata.labels",
		fmt.Sprintf("%s, so the service's pods get no sidecar; with STRICT mutual TLS in the mesh the route works only for pods with one", why),
		fmt.Sprintf("kubectl label namespace %s istio-injection=enabled --overwrite (or istio.io/rev=<revision> for a revisioned control plane), then restart the service's pods", p.AppNamespace))}
}
