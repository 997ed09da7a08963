// Package check finds every way the ALB → Istio ingress gateway chain can
// fail before a user's traffic does.
//
// It works in two steps, each in its own place:
//   - Read (reader.go) takes a Snapshot of the objects the chain consists of,
//     with a fixed number of API requests (GETs by name, LISTs bounded by a
//     label selector) that does not grow with the size of the cluster;
//   - Run applies the rules (rule_*.go, one job each, listed in rules.go),
//     pure functions from the Snapshot, the chain's parameters and the time
//     to Findings.
//
// Nothing here touches the network beyond the API server: the live probe
// (check --probe), which makes the ALB's mutual-TLS handshake with the
// gateway, is package probe. It builds its findings with NewFinding from
// the 08xx codes declared here, so that the catalog and docs/checks.md
// stay the one list of codes, and reads the ALB's identity through Input
// (ClientKeys, ALBTrust, GatewaySNI); this package never imports it.
//
// A Finding carries a stable code (codes.go lists them all, once), a level,
// the object and field involved, what is wrong and one line on how to fix it.
// Codes are grouped by area: 01xx secrets and certificates, 02xx trust,
// 03xx copies, 04xx Gateway and gateway workload, 05xx VirtualService,
// 06xx Ingress and ALB annotations, 07xx Istio API, 08xx live probe, 09xx
// renewal and the hop's cert-manager objects.
//
// Certificates (renewal.go) lists, for the report, every certificate of the
// chain with its days left and who renews it.
package check
