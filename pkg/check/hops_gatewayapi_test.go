package check

import (
	"context"
	"strings"
	"testing"
)

// TestGatewayAPIHops: in Gateway API mode the gateway hop shows the
// Gateway API Gateway and its frontend validation, and the route hop is the
// HTTPRoute, with where each chain path goes; a healthy chain is OK
// throughout, and a missing HTTPRoute turns the route hop to error.
func TestGatewayAPIHops(t *testing.T) {
	hops := func(w *world) map[HopName]Hop {
		p := *w.params
		snap, err := Read(context.Background(), newFakeAPI(t, w), &p)
		if err != nil {
			t.Fatal(err)
		}
		in := &Input{Params: &p, Snapshot: snap, Now: w.now, ExtraRoots: w.roots}
		out := map[HopName]Hop{}
		for _, h := range Hops(in, Run(in), LevelInfo) {
			out[h.Name] = h
		}
		return out
	}
	fact := func(h Hop, name string) string {
		for _, f := range h.Facts {
			if f.Name == name {
				return f.Value
			}
		}
		return ""
	}
	w := newWorld(t, worldOptions{GatewayAPI: &gatewayAPIOptions{}})
	got := hops(w)
	for _, name := range hopOrder {
		if got[name].Status != HopOK {
			t.Errorf("hop %s is %s on a healthy chain (codes %v)", name, got[name].Status, got[name].Codes)
		}
	}
	if g := fact(got[HopGateway], "gateway"); !strings.Contains(g, "(Gateway API)") || !strings.Contains(g, "client CA ConfigMap albistio-mycluster-a1b2c3-0001-client-ca") {
		t.Errorf("gateway fact = %q, want the Gateway API Gateway and its ConfigMap CA", g)
	}
	rt := got[HopVirtualService]
	if rt.title != "HTTPRoute" || !strings.Contains(fact(rt, "httpRoute"), "httptools/albistio-httpbin") || fact(rt, "routes") != "/status -> httpbin:8000" {
		t.Errorf("route hop = %+v, want the HTTPRoute routing /status to httpbin:8000", rt)
	}

	w = newWorld(t, worldOptions{GatewayAPI: &gatewayAPIOptions{}})
	w.apply(t, []gridOp{{Op: "delete", Target: "HTTPRoute httptools/albistio-httpbin"}})
	got = hops(w)
	if h := got[HopVirtualService]; h.Status != HopError || len(h.Codes) == 0 || h.Codes[0] != HTTPRouteMissing {
		t.Errorf("route hop with the HTTPRoute gone = %s %v, want error ALB1020", h.Status, h.Codes)
	}
}
