package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// check --suppress against the real API server: one breakage fails the
// run (exit 8) until its code is suppressed, everywhere or on its object;
// a suppression for another object, or another code, leaves it failing.
func TestCheckSuppress(t *testing.T) {
	w := newWorld(t, false)
	mustSucceed(t, w.setup(t))
	mergePatch(t, "ingresses", w.p.IstioNamespace, w.ingressName(), map[string]any{"metadata": map[string]any{"annotations": map[string]string{"nginx.ingress.kubernetes.io/proxy-ssl-server-name": "off"}}})
	codes, exit, _ := w.check(t)
	expectCodes(t, codes, exit, 8, "ALB0616")

	check := func(extra ...string) result {
		return albistio(t, append([]string{"check"}, w.flags(append([]string{"--alb-flavor", "nginx"}, extra...)...)...)...)
	}
	object := "Ingress " + w.p.IstioNamespace + "/" + w.ingressName()
	for _, suppress := range []string{"ALB0616", "alb0616", "ALB0616=" + object, "ALB0616=Ingress " + w.p.IstioNamespace + "/*"} {
		r := check("--suppress", suppress)
		if r.code != 0 || strings.Contains(r.stdout, "ALB0616") || !strings.Contains(r.stdout, "0 errors, 0 warnings, 0 info, 1 suppressed\n") {
			t.Errorf("--suppress %q: want exit 0, no ALB0616 and \"1 suppressed\":\n%s", suppress, r)
		}
	}

	r := check("--suppress", "ALB0616="+object, "-o", "json")
	var rep struct {
		Findings []struct{ Code string }
		Summary  struct{ Errors, Suppressed int }
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 || len(rep.Findings) != 0 || rep.Summary.Suppressed != 1 {
		t.Errorf("-o json: want exit 0, no findings, summary.suppressed 1 (%v):\n%s", err, r)
	}

	for _, suppress := range [][]string{
		{"--suppress", "ALB0616=Ingress " + w.p.IstioNamespace + "/someone-elses"},
		{"--suppress", "ALB0616=Ingress other/*"},
		{"--suppress", "ALB0615"},
	} {
		r := check(suppress...)
		if r.code != 8 || !strings.Contains(r.stdout, "ERROR   ALB0616 "+object) || strings.Contains(r.stdout, "suppressed") {
			t.Errorf("%q: want exit 8 with ALB0616 still reported and nothing suppressed:\n%s", suppress, r)
		}
	}

	mustFail(t, check("--suppress", "ALB9999"), 2, "ALB9999", "--list-checks")
}
