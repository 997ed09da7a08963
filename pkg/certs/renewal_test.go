package certs

import (
	"fmt"
	"testing"
	"time"
)

// TestNeedsRenewalTimeTravel: the threshold setup renews the plugin's own
// certificates at, over the life of a 90-day client certificate issued on
// day 0: not on day 0 or 59, from the first moment after day 60 (30 days
// left), and on every day after, expiry included. The private CA, issued
// the same day for five years, is not due on any of those days, and is due
// with 29 days of its own left.
func TestNeedsRenewalTimeTravel(t *testing.T) {
	issued := testNow()
	ca := newTestCA(t)
	kp, err := ca.Issue(ClientCertRequest{CommonName: "alb"}, issued)
	if err != nil {
		t.Fatal(err)
	}
	leaf := kp.Leaf()
	if got := leaf.NotAfter.Sub(issued); got != DefaultClientCertLifetime {
		t.Fatalf("the client certificate lives %s, want %s", got, DefaultClientCertLifetime)
	}
	day := 24 * time.Hour
	for _, tc := range []struct {
		at   time.Duration
		want bool
	}{
		{0, false},
		{59 * day, false},
		{60 * day, false}, // exactly 30 days left: not less than RenewBefore
		{60*day + time.Second, true},
		{61 * day, true},
		{89 * day, true},
		{91 * day, true}, // expired
	} {
		name := fmt.Sprintf("day %d", int(tc.at/day))
		if rest := tc.at % day; rest != 0 {
			name += " + " + rest.String()
		}
		t.Run(name, func(t *testing.T) {
			now := issued.Add(tc.at)
			if got := NeedsRenewal(leaf, now); got != tc.want {
				t.Errorf("client certificate: NeedsRenewal = %v, want %v (%s left)", got, tc.want, leaf.NotAfter.Sub(now))
			}
			if NeedsRenewal(ca.Cert, now) {
				t.Errorf("private CA: due for renewal %s after it was issued for %s", tc.at, DefaultCALifetime)
			}
		})
	}
	if !NeedsRenewal(ca.Cert, ca.Cert.NotAfter.Add(-29*day)) {
		t.Error("private CA with 29 days left: not due for renewal")
	}
	if NeedsRenewal(ca.Cert, ca.Cert.NotAfter.Add(-31*day)) {
		t.Error("private CA with 31 days left: due for renewal")
	}
}
