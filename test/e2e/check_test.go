package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albistio/kubectl-albistio/test/bench"
	"github.com/albistio/kubectl-albistio/test/fixtures"
)

// checkReport is the part of `check -o json` the tests read.
type checkReport struct {
	Findings []struct {
		Code, Level, Object, Message string
	}
}

// check runs `check -o json` and returns the codes of findings at warning
// level or above, sorted, plus the exit code.
func (w *world) check(t *testing.T, extra ...string) ([]string, int, checkReport) {
	t.Helper()
	r := albistio(t, append([]string{"check"}, w.flags(append([]string{"--alb-flavor", "nginx", "-o", "json"}, extra...)...)...)...)
	codes, rep := reportCodes(t, r)
	return codes, r.code, rep
}

// reportCodes reads the report of a `check -o json` run: the codes of its
// findings at warning level or above, sorted, and the report.
func reportCodes(t *testing.T, r result) ([]string, checkReport) {
	t.Helper()
	var rep checkReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("check -o json did not print JSON: %v\n%s", err, r)
	}
	var codes []string
	for _, f := range rep.Findings {
		if f.Level == "error" || f.Level == "warning" {
			codes = append(codes, f.Code)
		}
	}
	sort.Strings(codes)
	return codes, rep
}

// expectCodes asserts the findings at warning level or above and the exit
// code (8 when an error-level finding exists).
func expectCodes(t *testing.T, got []string, exit, wantExit int, want ...string) {
	t.Helper()
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("want exactly findings %v, got %v", want, got)
	}
	if exit != wantExit {
		t.Errorf("exit %d, want %d", exit, wantExit)
	}
}

// A chain set up by the plugin checks clean; each single breakage gives
// exactly its code.
func TestCheckFindsEachBreakage(t *testing.T) {
	w := newWorld(t, false)
	mustSucceed(t, w.setup(t))
	codes, exit, _ := w.check(t)
	expectCodes(t, codes, exit, 0)
	r := albistio(t, append([]string{"check"}, w.flags("--alb-flavor", "nginx")...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "No problems found.") {
		t.Errorf("a clean chain's text report:\n%s", r)
	}
	ctx := context.Background()

	t.Run("ALB certificate renewed by IKS: stale copy", func(t *testing.T) {
		if err := w.iks.RotateALBCert(ctx); err != nil {
			t.Fatal(err)
		}
		codes, exit, _ := w.check(t)
		expectCodes(t, codes, exit, 0, "ALB0303")
		mustSucceed(t, w.setup(t))
		codes, exit, _ = w.check(t)
		expectCodes(t, codes, exit, 0)
	})
	t.Run("SNI off", func(t *testing.T) {
		mergePatch(t, "ingresses", w.p.IstioNamespace, w.ingressName(), map[string]any{"metadata": map[string]any{"annotations": map[string]string{"nginx.ingress.kubernetes.io/proxy-ssl-server-name": "off"}}})
		codes, exit, _ := w.check(t)
		expectCodes(t, codes, exit, 8, "ALB0616")
		// Someone else now owns that annotation: setup refuses until told to take it back.
		mustFail(t, w.setup(t), 4, "proxy-ssl-server-name", "--force-conflicts")
		mustSucceed(t, w.setup(t, "--force-conflicts"))
	})
	t.Run("-cacert deleted", func(t *testing.T) {
		if err := env.kube.CoreV1().Secrets(w.p.IstioNamespace).Delete(ctx, w.p.GatewaySecretName+"-cacert", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		codes, exit, _ := w.check(t)
		expectCodes(t, codes, exit, 8, "ALB0104")
		mustSucceed(t, w.setup(t))
	})
	t.Run("gateway certificate expired", func(t *testing.T) {
		leaf, err := w.iks.PKI.Issue(fixtures.LeafOptions{DNSNames: []string{w.p.GatewayDomain}, NotBefore: time.Now().Add(-100 * 24 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		mergePatch(t, "secrets", w.p.IstioNamespace, w.p.GatewaySecretName, map[string]any{"data": map[string][]byte{"tls.crt": leaf.ChainPEM, "tls.key": leaf.KeyPEM}})
		codes, exit, _ := w.check(t)
		expectCodes(t, codes, exit, 8, "ALB0108")
	})
}

// The walkthrough's design on today's certificates: check names the missing
// client-auth usage before any traffic does.
func TestCheckFindsTheWalkthroughDesign(t *testing.T) {
	w := newWorld(t, false)
	mustSucceed(t, w.setup(t))
	alb := w.iks.ALBCert
	mergePatch(t, "secrets", w.p.IstioNamespace, "alb-certs", map[string]any{"data": map[string][]byte{"tls.crt": alb.ChainPEM, "tls.key": alb.KeyPEM}})
	mergePatch(t, "secrets", w.p.IstioNamespace, w.p.GatewaySecretName+"-cacert", map[string]any{"data": map[string][]byte{"ca.crt": w.iks.RootPEM}})
	codes, exit, rep := w.check(t)
	if exit != 8 || !contains(codes, "ALB0201") {
		t.Fatalf("want ALB0201 (client chain without clientAuth) and exit 8, got %v exit %d", codes, exit)
	}
	for _, f := range rep.Findings {
		if f.Code == "ALB0201" && !strings.Contains(f.Message, "clientAuth") {
			t.Errorf("ALB0201 should say what is missing: %q", f.Message)
		}
	}
}

// The live probe against a real TLS server that requires client
// certificates: the good identity passes, the walkthrough's fails by name.
func TestCheckProbe(t *testing.T) {
	w := newWorld(t, false)
	mustSucceed(t, w.setup(t))
	pa := w.startPath(t)
	codes, exit, rep := w.check(t, "--probe-address", pa.gateway.Addr())
	// The stand-in app answers 404 for the bare prefix /status, and it is not
	// Envoy (no x-envoy-upstream-service-time), so check warns ALB0808.
	expectCodes(t, codes, exit, 0, "ALB0808")
	if !hasFinding(rep, "ALB0801") {
		t.Errorf("want ALB0801 (handshake ok): %+v", rep.Findings)
	}

	alb := w.iks.ALBCert
	mergePatch(t, "secrets", w.p.IstioNamespace, "alb-certs", map[string]any{"data": map[string][]byte{"tls.crt": alb.ChainPEM, "tls.key": alb.KeyPEM}})
	mergePatch(t, "secrets", w.p.IstioNamespace, w.p.GatewaySecretName+"-cacert", map[string]any{"data": map[string][]byte{"ca.crt": w.iks.RootPEM}})
	pa = w.startPath(t) // a gateway that trusts the new -cacert
	codes, exit, _ = w.check(t, "--probe-address", pa.gateway.Addr())
	if exit != 8 || !contains(codes, "ALB0804") {
		t.Fatalf("want ALB0804 (rejected: the chain lacks clientAuth), got %v exit %d", codes, exit)
	}
	if !pa.gateway.WaitHandshakeError("incompatible key usage", 5*time.Second) {
		t.Errorf("the gateway should have refused the probe for the usage: %q", pa.gateway.HandshakeErrors())
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func hasFinding(rep checkReport, code string) bool {
	for _, f := range rep.Findings {
		if f.Code == code {
			return true
		}
	}
	return false
}

// check learns Istio's API version from its Gateway GET at v1, and only
// when the server does not serve v1 asks discovery. Behind a proxy that
// makes the real API server look like Istio < 1.22 (v1 answers the API
// server's own "404 page not found", discovery lists v1beta1 and v1alpha3)
// the objects are read at v1beta1 and the only finding is ALB0702; behind
// one that hides Istio entirely, ALB0701. A current cluster costs no
// discovery request (TestRequestCounts).
func TestCheckIstioVersionFallback(t *testing.T) {
	w := newWorld(t, false)
	mustSucceed(t, w.setup(t))
	const group = "/apis/networking.istio.io"
	notServed := func(rw http.ResponseWriter) { http.Error(rw, "404 page not found", http.StatusNotFound) }
	oldIstio := newAPIProxy(t, func(rw http.ResponseWriter, r *http.Request) bool {
		switch {
		case strings.HasPrefix(r.URL.Path, group+"/v1/"):
			notServed(rw)
		case r.URL.Path == group:
			rw.Header().Set("Content-Type", "application/json")
			fmt.Fprint(rw, `{"kind":"APIGroup","apiVersion":"v1","name":"networking.istio.io","versions":[`+
				`{"groupVersion":"networking.istio.io/v1beta1","version":"v1beta1"},{"groupVersion":"networking.istio.io/v1alpha3","version":"v1alpha3"}],`+
				`"preferredVersion":{"groupVersion":"networking.istio.io/v1beta1","version":"v1beta1"}}`)
		default:
			return false
		}
		return true
	})
	noIstio := newAPIProxy(t, func(rw http.ResponseWriter, r *http.Request) bool {
		if strings.HasPrefix(r.URL.Path, group) {
			notServed(rw)
			return true
		}
		return false
	})
	for _, tc := range []struct {
		name       string
		kubeconfig string
		want       []string
		exit       int
		gatewayAt  string // the version the Gateway was read at; "" for not at all
	}{
		{"v1beta1 only", oldIstio, []string{"ALB0702"}, 0, "v1beta1"},
		{"not installed", noIstio, []string{"ALB0701"}, 8, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := albistioAs(t, tc.kubeconfig, nil, append([]string{"check", "-v=6"}, w.flags("--alb-flavor", "nginx", "-o", "json")...)...)
			codes, _ := reportCodes(t, r)
			expectCodes(t, codes, r.code, tc.exit, tc.want...)

			var discovery int
			var gatewayAt []string
			for _, q := range bench.ParseRequests(r.stderr) {
				tg := q.Target()
				if tg.Discovery && q.Signature() == "GET "+group {
					discovery++
				}
				if tg.Resource == "gateways" && strings.HasPrefix(q.Status, "200") {
					gatewayAt = append(gatewayAt, tg.Version)
				}
			}
			if discovery != 1 {
				t.Errorf("want one discovery request for networking.istio.io after v1 was not served, got %d:\n%s", discovery, r.stderr)
			}
			if want := tc.gatewayAt; (want == "" && len(gatewayAt) > 0) || (want != "" && strings.Join(gatewayAt, ",") != want) {
				t.Errorf("Gateway read at %v, want %q", gatewayAt, want)
			}
		})
	}
}
