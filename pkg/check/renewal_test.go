package check

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/internal/golden"
)

// inputOf reads w through the fake API as check does.
func inputOf(t *testing.T, w *world) *Input {
	t.Helper()
	p := *w.params
	snap, err := Read(context.Background(), newFakeAPI(t, w), &p)
	if err != nil {
		t.Fatal(err)
	}
	return &Input{Params: &p, Snapshot: snap, Now: w.now, ExtraRoots: w.roots}
}

// timestamps are the dates the worlds' certificates were issued around,
// which change from run to run; days left do not.
var timestamps = regexp.MustCompile(`\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\dZ)?`)

// TestCertificatesGolden: the report lists every certificate of the chain
// with its days left and who renews it, in text (a table before the
// summary) and JSON/YAML (a "certificates" list next to findings and
// summary), for the plugin's own issuance and for cert-manager's.
func TestCertificatesGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts worldOptions
	}{
		{"private-ca", worldOptions{}},
		{"private-ca-day-61", worldOptions{Now: "61d"}},
		{"cert-manager", worldOptions{Identity: chain.IdentityCertManager}},
		{"cert-manager-iks-copy", worldOptions{Identity: chain.IdentityCertManager, IKSCopy: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := inputOf(t, newWorld(t, tc.opts))
			r := NewReport(Run(in))
			r.Certificates = Certificates(in)
			for _, format := range []string{FormatText, FormatJSON, FormatYAML} {
				var buf bytes.Buffer
				if err := r.Write(&buf, format, false); err != nil {
					t.Fatal(err)
				}
				out := timestamps.ReplaceAllStringFunc(buf.String(), func(s string) string {
					if len(s) > 10 {
						return "YYYY-MM-DDThh:mm:ssZ"
					}
					return "YYYY-MM-DD"
				})
				golden.Compare(t, filepath.Join("testdata", "output", "certificates-"+tc.name+"."+format), []byte(out))
			}
		})
	}
}

// TestCertificatesRenewers: who renews each certificate, by mode: IKS its
// own secrets and the copies it keeps, cert-manager what it writes from a
// Certificate that exists, "run setup" the plugin's issuance and copies,
// nobody a cert-manager Secret whose Certificate is gone or a leftover.
func TestCertificatesRenewers(t *testing.T) {
	renewers := func(t *testing.T, w *world) map[string]string {
		t.Helper()
		got := map[string]string{}
		for _, c := range Certificates(inputOf(t, w)) {
			if c.NotAfter == "" || c.Object == "" || c.Field == "" || c.Subject == "" {
				t.Errorf("%s lacks a field: %+v", c.Role, c)
			}
			got[c.Role] = c.RenewedBy
		}
		return got
	}
	for _, tc := range []struct {
		name string
		w    func(t *testing.T) *world
		want map[string]string
	}{
		{"private-ca", func(t *testing.T) *world { return newWorld(t, worldOptions{}) }, map[string]string{
			"alb-tls": RenewedBySetup, "alb-tls-source": RenewedByIKS, "alb-client": RenewedBySetup,
			"gateway-server": RenewedByIKS, "ca": RenewedBySetup, "gateway-client-ca": RenewedBySetup,
		}},
		{"alb-cert", func(t *testing.T) *world { return newWorld(t, worldOptions{ALBClientAuth: true}) }, map[string]string{
			"alb-tls": RenewedBySetup, "alb-tls-source": RenewedByIKS, "alb-client": RenewedBySetup,
			"gateway-server": RenewedByIKS, "gateway-client-ca": RenewedBySetup,
		}},
		{"private-ca, IKS's copy", func(t *testing.T) *world { return newWorld(t, worldOptions{IKSCopy: true}) }, map[string]string{
			"alb-tls": RenewedByIKS, "alb-tls-source": RenewedByIKS, "alb-client": RenewedBySetup,
			"gateway-server": RenewedByIKS, "ca": RenewedBySetup, "gateway-client-ca": RenewedBySetup,
		}},
		{"cert-manager", func(t *testing.T) *world { return newWorld(t, worldOptions{Identity: chain.IdentityCertManager}) }, map[string]string{
			"alb-tls": RenewedBySetup, "alb-tls-source": RenewedByIKS, "alb-client": RenewedByCertManager,
			"gateway-server": RenewedByCertManager, "ca": RenewedByCertManager,
		}},
		{"cert-manager, client Certificate gone, leftover -cacert", func(t *testing.T) *world {
			w := newWorld(t, worldOptions{Identity: chain.IdentityCertManager, IKSCopy: true})
			w.apply(t, []gridOp{{Op: "delete", Target: "Certificate istio-system/alb-certs"}, {Op: "apply", Object: map[string]any{
				"apiVersion": "v1", "kind": "Secret",
				"metadata": map[string]any{"name": "albistio-istio-ingressgateway-server-cacert", "namespace": istioNS},
				"data":     map[string]any{"ca.crt": testPKI(t).pem["hop.ca.crt"]},
			}}})
			return w
		}, map[string]string{
			"alb-tls": RenewedByIKS, "alb-tls-source": RenewedByIKS, "alb-client": RenewedByNobody,
			"gateway-server": RenewedByCertManager, "ca": RenewedByCertManager, "gateway-client-ca": RenewedByNobody,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := renewers(t, tc.w(t))
			for role, want := range tc.want {
				if got[role] != want {
					t.Errorf("%s is renewed by %q, want %q", role, got[role], want)
				}
			}
			for role := range got {
				if _, ok := tc.want[role]; !ok {
					t.Errorf("unexpected certificate %s (%s)", role, got[role])
				}
			}
		})
	}
}

// TestReportCertificatesOptional: a report without certificates prints as
// before (no table, no "certificates" key), so other callers of Report
// are unchanged.
func TestReportCertificatesOptional(t *testing.T) {
	var text, js bytes.Buffer
	r := NewReport(sampleFindings())
	_ = r.Write(&text, FormatText, false)
	_ = r.Write(&js, FormatJSON, false)
	if strings.Contains(text.String(), "Certificates:") || strings.Contains(js.String(), `"certificates"`) {
		t.Errorf("a report without certificates lists some:\n%s\n%s", text.String(), js.String())
	}
	var decoded map[string]any
	if err := json.Unmarshal(js.Bytes(), &decoded); err != nil {
		t.Fatal(err)
	}
	keys := []string{}
	for k := range decoded {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"findings", "summary"}) {
		t.Errorf("report keys %v", keys)
	}
}
