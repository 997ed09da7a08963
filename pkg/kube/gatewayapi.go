package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/albistio/kubectl-albistio/pkg/chain"
)

// Gateway API resources the plugin writes in --gateway-api mode, at v1.
var (
	GatewayAPIGateways = schema.GroupVersionResource{Group: chain.GatewayAPIGroup, Version: "v1", Resource: "gateways"}
	HTTPRoutes         = schema.GroupVersionResource{Group: chain.GatewayAPIGroup, Version: "v1", Resource: "httproutes"}
	ConfigMaps         = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
)

// GatewayAPIInstall is how to install the Gateway API's standard CRDs of
// the release the plugin is tested with.
const GatewayAPIInstall = "kubectl apply --server-side -f https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.6.3/standard-install.yaml"

// RequireGatewayAPI fails with ExitInvalidInput unless the cluster serves
// gateway.networking.k8s.io/v1 Gateways and HTTPRoutes: without them
// --gateway-api has nothing to write. One request, no discovery sweep.
func (c *Clients) RequireGatewayAPI(ctx context.Context) error {
	gv := GatewayAPIGateways.GroupVersion().String()
	raw, err := c.REST.Get().AbsPath("/apis", gv).DoRaw(ctx)
	if err != nil && !apierrors.IsNotFound(err) {
		return c.Explain(err, "discover", schema.GroupVersionResource{Group: chain.GatewayAPIGroup, Version: "v1"}, "", "")
	}
	served := map[string]bool{}
	if err == nil {
		var list metav1.APIResourceList
		if jerr := json.Unmarshal(raw, &list); jerr != nil {
			return fmt.Errorf("the API server answered /apis/%s with something that is not an APIResourceList: %w", gv, jerr)
		}
		for _, r := range list.APIResources {
			served[r.Name] = true
		}
	}
	var missing []string
	for _, r := range []string{GatewayAPIGateways.Resource, HTTPRoutes.Resource} {
		if !served[r] {
			missing = append(missing, r+"."+chain.GatewayAPIGroup+"/v1")
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return WithCode(ExitInvalidInput, fmt.Errorf("--gateway-api: the cluster at %s does not serve %s: install the Gateway API's standard CRDs (%s; Istio 1.28 or later implements them), or leave out --gateway-api to use Istio's own Gateway",
		c.Host, strings.Join(missing, " and "), GatewayAPIInstall))
}
