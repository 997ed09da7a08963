package check

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/albistio/kubectl-albistio/pkg/certs"
	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// The renewal decisions, travelling in time over the 90-day certificates
// of a freshly set-up chain: day 0, 59 (a day before the renewal window of
// 30 days opens), 61 (inside it), 89 (a day left: the expiry warning) and
// 91 (expired). Every world's leaves are issued at once and live 90 days;
// the CAs live five (private-ca) or ten (cert-manager) years.
var travelDays = []int{0, 59, 61, 89, 91}

// renewalCodes are the findings a time-travel case looks at: the expiry
// findings and the renewal findings.
var renewalCodes = []Code{CertExpired, CertExpiresSoon, CertManagerRenewalOverdue, ALBTLSCopyUnrenewed, RenewalDue}

// The objects whose certificates expire in a world.
const (
	ttALBSource = "Secret default/" + albSecret
	ttALBCopy   = "Secret " + istioNS + "/" + albSecret
	ttClient    = "Secret " + istioNS + "/alb-certs"
	ttGateway   = "Secret " + istioNS + "/" + gwSecret
	ttServer    = "Secret " + istioNS + "/albistio-istio-ingressgateway-server"
)

// expiring are the findings of code on each object.
func expiring(code Code, objects ...string) []string {
	var out []string
	for _, o := range objects {
		out = append(out, string(code)+" "+o)
	}
	return out
}

func TestRenewalTimeTravel(t *testing.T) {
	type days map[int][]string
	for _, tc := range []struct {
		name string
		opts worldOptions
		want days
	}{
		{"private-ca", worldOptions{}, days{
			0: nil, 59: nil,
			61: {"ALB0906 " + ttALBCopy, "ALB0909 " + ttClient},
			89: expiring(CertExpiresSoon, ttALBSource, ttALBCopy, ttClient, ttGateway),
			91: expiring(CertExpired, ttALBSource, ttALBCopy, ttClient, ttGateway),
		}},
		{"alb-cert", worldOptions{ALBClientAuth: true}, days{
			0: nil, 59: nil,
			61: {"ALB0906 " + ttALBCopy, "ALB0909 " + ttClient},
			89: expiring(CertExpiresSoon, ttALBSource, ttALBCopy, ttClient, ttGateway),
			91: expiring(CertExpired, ttALBSource, ttALBCopy, ttClient, ttGateway),
		}},
		{"private-ca, IKS's copy", worldOptions{IKSCopy: true}, days{
			0: nil, 59: nil,
			61: {"ALB0909 " + ttClient},
			89: expiring(CertExpiresSoon, ttALBSource, ttALBCopy, ttClient, ttGateway),
			91: expiring(CertExpired, ttALBSource, ttALBCopy, ttClient, ttGateway),
		}},
		{"cert-manager, the plugin's copy", worldOptions{Identity: chain.IdentityCertManager}, days{
			0:  {"ALB0906 " + ttALBCopy},
			59: {"ALB0906 " + ttALBCopy},
			61: {"ALB0906 " + ttALBCopy, "ALB0908 " + ttClient, "ALB0908 " + ttServer},
			89: expiring(CertExpiresSoon, ttALBSource, ttALBCopy, ttClient, ttServer),
			91: expiring(CertExpired, ttALBSource, ttALBCopy, ttClient, ttServer),
		}},
		{"cert-manager, IKS's copy", worldOptions{Identity: chain.IdentityCertManager, IKSCopy: true}, days{
			0: nil, 59: nil,
			61: {"ALB0908 " + ttClient, "ALB0908 " + ttServer},
			89: expiring(CertExpiresSoon, ttALBSource, ttALBCopy, ttClient, ttServer),
			91: expiring(CertExpired, ttALBSource, ttALBCopy, ttClient, ttServer),
		}},
		{"cert-manager, traefik", worldOptions{Flavor: chain.FlavorTraefik, Identity: chain.IdentityCertManager, IKSCopy: true}, days{
			0: nil, 59: nil,
			61: {"ALB0908 " + ttClient, "ALB0908 " + ttServer},
			89: expiring(CertExpiresSoon, ttALBSource, ttALBCopy, ttClient, ttServer),
			91: expiring(CertExpired, ttALBSource, ttALBCopy, ttClient, ttServer),
		}},
	} {
		for _, d := range travelDays {
			t.Run(fmt.Sprintf("%s/day %d", tc.name, d), func(t *testing.T) {
				opts := tc.opts
				opts.Now = fmt.Sprintf("%dd", d)
				fs, _ := newWorld(t, opts).check(t)
				var got []string
				for _, f := range fs {
					if slices.Contains(renewalCodes, f.Code) {
						got = append(got, string(f.Code)+" "+f.Object)
					}
				}
				want := slices.Clone(tc.want[d])
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("day %d: renewal findings\n  %s\nwant\n  %s", d, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
				}
			})
		}
	}
}

// TestCertificatesTimeTravel: the report's days left and renewer of the
// ALB's client certificate over the same days, and whether setup (without
// cert-manager) would renew it: certs.NeedsRenewal, the threshold setup
// uses, opens at 30 days left.
func TestCertificatesTimeTravel(t *testing.T) {
	wantDays := map[int]int{0: 89, 59: 30, 61: 28, 89: 0, 91: -1}
	for _, tc := range []struct {
		name     string
		opts     worldOptions
		renewer  string
		noteAt59 string
		noteAt61 string
	}{
		{"private-ca", worldOptions{}, RenewedBySetup, "setup renews it from ", "due: setup renews it now"},
		{"cert-manager", worldOptions{Identity: chain.IdentityCertManager, IKSCopy: true}, RenewedByCertManager, "renews it at ", "renews it at "},
	} {
		for _, d := range travelDays {
			t.Run(fmt.Sprintf("%s/day %d", tc.name, d), func(t *testing.T) {
				opts := tc.opts
				opts.Now = fmt.Sprintf("%dd", d)
				w := newWorld(t, opts)
				in := inputOf(t, w)
				var client *CertificateStatus
				for _, c := range Certificates(in) {
					if c.Role == "alb-client" {
						client = &c
					}
				}
				if client == nil {
					t.Fatal("the report lists no ALB client certificate")
				}
				if client.DaysLeft != wantDays[d] || client.RenewedBy != tc.renewer {
					t.Errorf("day %d: %d days left, renewed by %q; want %d, %q", d, client.DaysLeft, client.RenewedBy, wantDays[d], tc.renewer)
				}
				note := map[int]string{59: tc.noteAt59, 61: tc.noteAt61}[d]
				if note != "" && !strings.HasPrefix(client.Note, note) {
					t.Errorf("day %d: note %q, want it to start with %q", d, client.Note, note)
				}
				leaf := firstCert(in.Snapshot.ClientSecret, "tls.crt")
				if due := certs.NeedsRenewal(leaf, in.Now); due != (d > 60) {
					t.Errorf("day %d: certs.NeedsRenewal = %v", d, due)
				}
			})
		}
	}
}

// TestCertManagerRenewsAtThePluginsThreshold: cert-manager renews the
// hop's leaves with as much left as setup renews its own (30 days of 90),
// so both modes open the renewal window on the same day, and check's
// overdue finding follows the Certificate's own renewBefore.
func TestCertManagerRenewsAtThePluginsThreshold(t *testing.T) {
	before, err := time.ParseDuration(render.CertManagerLeafRenewBefore)
	if err != nil || before != certs.RenewBefore {
		t.Errorf("cert-manager's renewBefore %s (%v), the plugin's RenewBefore %s", render.CertManagerLeafRenewBefore, err, certs.RenewBefore)
	}
	life, err := time.ParseDuration(render.CertManagerLeafDuration)
	if err != nil || life != certs.DefaultClientCertLifetime {
		t.Errorf("cert-manager's duration %s (%v), the plugin's client certificate lifetime %s", render.CertManagerLeafDuration, err, certs.DefaultClientCertLifetime)
	}
	// renewalTime: status first, then spec.renewBefore, then a third of
	// the lifetime (cert-manager's default).
	leaf := firstCert(newWorld(t, worldOptions{Identity: chain.IdentityCertManager}).secret(t, "alb-certs"), "tls.crt")
	o := &CertManagerObject{Status: CertManagerStatus{RenewalTime: "2030-01-02T03:04:05Z"}, Spec: CertManagerSpec{RenewBefore: "24h"}}
	if got := o.renewalTime(leaf); got.Format(time.RFC3339) != "2030-01-02T03:04:05Z" {
		t.Errorf("renewalTime from status: %s", got)
	}
	o.Status.RenewalTime = ""
	if got := o.renewalTime(leaf); !got.Equal(leaf.NotAfter.Add(-24 * time.Hour)) {
		t.Errorf("renewalTime from spec.renewBefore: %s", got)
	}
	o.Spec.RenewBefore = ""
	if got := o.renewalTime(leaf); !got.Equal(leaf.NotAfter.Add(-leaf.NotAfter.Sub(leaf.NotBefore) / 3)) {
		t.Errorf("renewalTime by default: %s", got)
	}
}
