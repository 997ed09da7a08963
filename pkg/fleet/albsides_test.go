package fleet

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/check"
	"github.com/albistio/kubectl-albistio/pkg/plan"
)

// TestChainOnTwoALBsCountsOnce: the two ALB sides of one chain are two
// results but one chain, in the summary line, the JSON summary and the
// text's labels; two chains that merely look alike are not merged.
func TestChainOnTwoALBsCountsOnce(t *testing.T) {
	res := &ClusterResult{Chains: []ChainResult{
		{Chain: "shop/storefront", Ingress: "istio-system/albistio-shop-storefront-nginx", ALB: chain.FlavorNginx, Shape: plan.ShapePlugin, Outcome: OutcomeClean},
		{Chain: "shop/storefront", Ingress: "istio-system/albistio-shop-storefront-traefik", ALB: chain.FlavorTraefik, Shape: plan.ShapePlugin, Outcome: OutcomeClean},
		{Chain: "blog/blog", Ingress: "istio-system/albistio-blog-blog", Outcome: OutcomeClean},
		{Chain: "istio-system/hand-made", Ingress: "istio-system/hand-made", Outcome: OutcomeClean},
		{Chain: "istio-system/hand-made", Ingress: "istio-system/hand-made-2", Outcome: OutcomeClean},
	}}
	if got, want := res.Summary(), "4 chains, 1 on two ALBs (5 checks): 5 clean"; got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
	var b bytes.Buffer
	if err := WriteCluster(&b, res, check.FormatJSON, false); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Chains []struct {
			ALB string `json:"alb"`
		} `json:"chains"`
		Summary struct {
			Chains int `json:"chains"`
			Checks int `json:"checks"`
		} `json:"summary"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Summary.Chains != 4 || doc.Summary.Checks != 5 || doc.Chains[0].ALB != "nginx" || doc.Chains[2].ALB != "" {
		t.Errorf("JSON summary %+v, chains %+v; want 4 chains, 5 checks, alb on the pair only\n%s", doc.Summary, doc.Chains, b.String())
	}
	b.Reset()
	if err := WriteCluster(&b, res, check.FormatText, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"shop/storefront (nginx ALB)", "shop/storefront (traefik ALB)", "\nchain shop/storefront (traefik ALB) (plugin"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "blog/blog (nginx") || strings.Contains(b.String(), "blog/blog (traefik") {
		t.Errorf("a chain on one ALB names no ALB:\n%s", b.String())
	}
}
