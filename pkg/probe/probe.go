// Package probe makes the handshake and the request the ALB makes to the
// Istio ingress gateway, live, and reports what the gateway answered as
// check findings (the 08xx codes of check's catalog).
//
// Package check judges the chain from what the API server holds, without
// touching the network; this package is the one that connects: Run picks
// where the gateway is reached (--probe-address, a port-forward to a
// gateway pod, or the gateway Service's LoadBalancer address), NewMaterial
// takes the ALB's client identity and trust from the snapshot check read,
// and Handshake performs the mutual-TLS handshake and the HTTPS request and
// explains a failure in the ALB's terms.
package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"syscall"

	"github.com/albistio/kubectl-albistio/pkg/certs"
	"github.com/albistio/kubectl-albistio/pkg/check"
)

// Material is what the ALB presents to the gateway and what it trusts,
// read from the cluster and held in memory only: the private key is never
// written anywhere.
type Material struct {
	// ClientCert is the ALB's client certificate chain and key.
	ClientCert tls.Certificate
	// ClientChain is ClientCert's chain, parsed, to explain rejections.
	ClientChain []*x509.Certificate
	// Roots are the CA certificates the ALB verifies the gateway with.
	Roots []*x509.Certificate
	// ServerName is sent as SNI and verified in the gateway's certificate.
	ServerName string
	// Host and Path make the HTTPS request the ALB would forward.
	Host, Path string
}

// Target is where the probe connects and what that address stands for.
type Target struct {
	// Address is host:port.
	Address string
	// Object is the gateway object the address belongs to, for findings.
	Object string
	// Via says how the address was found ("the LoadBalancer address", ...).
	Via string
}

// Handshake performs the mutual-TLS handshake the ALB makes with the
// gateway at target (SNI and verified name m.ServerName, client certificate
// m.ClientCert, trust m.Roots), then sends GET m.Path with Host m.Host, and
// reports what happened as 08xx findings. The context bounds the whole
// probe.
func Handshake(ctx context.Context, target Target, m *Material) []check.Finding {
	where := fmt.Sprintf("%s (%s)", target.Address, target.Via)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", target.Address)
	if err != nil {
		return []check.Finding{check.NewFinding(check.ProbeConnectFailed, target.Object, "",
			fmt.Sprintf("cannot connect to %s: %v", where, err),
			"check that the gateway's address is reachable from here (firewalls, the LoadBalancer's state); --port-forward reaches a gateway pod through the API server instead")}
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}

	pool := x509.NewCertPool()
	for _, r := range m.Roots {
		pool.AddCert(r)
	}
	tc := tls.Client(conn, &tls.Config{
		ServerName: m.ServerName,
		RootCAs:    pool,
		// Always present the certificate, as nginx and Traefik do; Go's
		// default would withhold one whose issuer the server's
		// CertificateRequest does not list, hiding the real failure.
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &m.ClientCert, nil },
		MinVersion:           tls.VersionTLS12,
		NextProtos:           []string{"http/1.1"},
	})
	if err := tc.HandshakeContext(ctx); err != nil {
		return []check.Finding{handshakeFinding(err, target, where, m)}
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+m.Host+m.Path, nil)
	if err != nil {
		return []check.Finding{check.NewFinding(check.ProbeNotRun, target.Object, "", fmt.Sprintf("cannot build the request for host %q and path %q: %v", m.Host, m.Path, err), "check --host and --path")}
	}
	req.Header.Set("User-Agent", "kubectl-albistio-check")
	req.Close = true
	// With TLS 1.3 the client's handshake completes before the server has
	// judged the client certificate: a rejection arrives as an alert on
	// the first read, so it is classified like a handshake failure.
	if err := req.Write(tc); err != nil {
		return []check.Finding{afterHandshake(err, target, where, m)}
	}
	resp, err := http.ReadResponse(bufio.NewReader(tc), req)
	if err != nil {
		return []check.Finding{afterHandshake(err, target, where, m)}
	}
	defer resp.Body.Close()

	state := tc.ConnectionState()
	fs := []check.Finding{check.NewFinding(check.ProbeHandshakeOK, target.Object, "",
		fmt.Sprintf("mutual TLS with %s completed: %s, SNI %q, the gateway presented %s and accepted the ALB's client certificate %q",
			where, tls.VersionName(state.Version), m.ServerName, describeLeaf(state.PeerCertificates), leafName(m.ClientChain)), "")}
	return append(fs, responseFinding(resp, target, m))
}

// afterHandshake classifies an error on the first write or read: an alert
// there is the gateway's verdict on the client certificate (TLS 1.3).
func afterHandshake(err error, target Target, where string, m *Material) check.Finding {
	if _, ok := remoteAlert(err); ok || isClosed(err) {
		return handshakeFinding(err, target, where, m)
	}
	return check.NewFinding(check.ProbeHTTPServerError, target.Object, "",
		fmt.Sprintf("the handshake with %s completed but no HTTP response came back for GET %s (Host %s): %v", where, m.Path, m.Host, err),
		"look at the gateway's logs (kubectl logs -n <istio namespace> -l <gateway selector>)")
}

// handshakeFinding explains a failed handshake.
func handshakeFinding(err error, target Target, where string, m *Material) check.Finding {
	if code, ok := remoteAlert(err); ok {
		name := alertName(err)
		if isCertificateAlert(code) {
			if culprit := withoutClientAuth(m.ClientChain); culprit != nil {
				ue := &certs.UsageError{Usage: x509.ExtKeyUsageClientAuth, Leaf: leafOf(m.ClientChain), Cert: culprit}
				return check.NewFinding(check.ProbeClientNoAuthEKU, target.Object, "",
					fmt.Sprintf("%s answered the handshake with the TLS alert %q: it refused the ALB's client certificate, because %v", where, name, ue),
					"run kubectl albistio secrets --client-identity=private-ca (auto does the same), then probe again")
			}
			return check.NewFinding(check.ProbeClientRejected, target.Object, "",
				fmt.Sprintf("%s answered the handshake with the TLS alert %q: it refused the ALB's client certificate %q%s", where, name, leafName(m.ClientChain), alertHint(code)),
				"re-run kubectl albistio secrets so that the client certificate and the gateway's -cacert match, then run check without --probe for the cause")
		}
		return check.NewFinding(check.ProbeHandshakeFailed, target.Object, "",
			fmt.Sprintf("%s aborted the handshake with the TLS alert %q: usually the SNI %q matches none of the Gateway's hosts, or the gateway has no certificate for it (its credentialName secret is missing)", where, name, m.ServerName),
			"check the Gateway's hosts and credentialName (run check without --probe)")
	}
	var cve *tls.CertificateVerificationError
	if errors.As(err, &cve) {
		return check.NewFinding(check.ProbeServerUntrusted, target.Object, "",
			fmt.Sprintf("%s presented %s, which does not verify against the ALB's ca.crt for %q: %v", where, describeLeaf(cve.UnverifiedCertificates), m.ServerName, cve.Err),
			"re-run kubectl albistio secrets (it writes the gateway's root into ca.crt); if the certificate is not the gateway's, the address is not the gateway")
	}
	if isClosed(err) {
		return check.NewFinding(check.ProbeHandshakeFailed, target.Object, "",
			fmt.Sprintf("%s closed the connection during the handshake without a TLS alert; Envoy does that when no filter chain matches the SNI %q (the Gateway's hosts) or when the listener has no certificate (credentialName or -cacert secret missing): %v", where, m.ServerName, err),
			"run check without --probe: it names which of these it is")
	}
	return check.NewFinding(check.ProbeHandshakeFailed, target.Object, "",
		fmt.Sprintf("the handshake with %s failed: %v", where, err),
		"run check without --probe for the static cause; raise --probe-timeout if the gateway is slow")
}

// responseFinding judges the gateway's answer. Envoy adds
// x-envoy-upstream-service-time when the service answered, which tells the
// gateway's own 404 and 503 (no route, no upstream) from the app's.
func responseFinding(resp *http.Response, target Target, m *Material) check.Finding {
	req := fmt.Sprintf("GET %s (Host %s)", m.Path, m.Host)
	fromService := resp.Header.Get("x-envoy-upstream-service-time") != ""
	switch {
	case fromService:
		return check.NewFinding(check.ProbeHTTPOK, target.Object, "",
			fmt.Sprintf("%s reached the service through the gateway, which answered %s", req, resp.Status), "")
	case resp.StatusCode < 400:
		return check.NewFinding(check.ProbeHTTPOK, target.Object, "", fmt.Sprintf("%s was answered %s", req, resp.Status), "")
	case resp.StatusCode < 500:
		hint := ""
		if resp.StatusCode == http.StatusNotFound {
			hint = ": the gateway has no route for this host and path"
		}
		return check.NewFinding(check.ProbeHTTPClientError, target.Object, "",
			fmt.Sprintf("%s was answered %s by the gateway%s", req, resp.Status, hint),
			"check the VirtualService's hosts, gateways and paths (run check without --probe)")
	}
	return check.NewFinding(check.ProbeHTTPServerError, target.Object, "",
		fmt.Sprintf("%s was answered %s by the gateway, not by the service: it found no healthy upstream, or could not reach it over the mesh's mutual TLS", req, resp.Status),
		"check that the service runs with a sidecar and its pods are ready (kubectl get pods -n <app namespace>)")
}

// remoteAlert returns the TLS alert the peer sent, if err carries one.
// crypto/tls reports received alerts as a net.OpError "remote error"
// wrapping its unexported alert type (a uint8).
func remoteAlert(err error) (uint8, bool) {
	var ae tls.AlertError
	if errors.As(err, &ae) {
		return uint8(ae), true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" && op.Err != nil {
		if v := reflect.ValueOf(op.Err); v.Kind() == reflect.Uint8 {
			return uint8(v.Uint()), true
		}
	}
	return 0, false
}

// alertName is the alert's name as crypto/tls spells it ("bad certificate").
func alertName(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return strings.TrimPrefix(op.Err.Error(), "tls: ")
	}
	return strings.TrimPrefix(err.Error(), "tls: ")
}

// isCertificateAlert reports alerts that judge the client's certificate:
// bad_certificate, unsupported_certificate, certificate_revoked,
// certificate_expired, certificate_unknown, unknown_ca, access_denied,
// certificate_required (RFC 8446, section 6.2).
func isCertificateAlert(code uint8) bool {
	switch code {
	case 42, 43, 44, 45, 46, 48, 49, 116:
		return true
	}
	return false
}

func alertHint(code uint8) string {
	switch code {
	case 48:
		return ": it does not chain to the CA in the gateway's -cacert"
	case 116:
		return ": the gateway saw no client certificate"
	case 45:
		return ": it (or its issuer) has expired"
	}
	return ": the gateway could not verify it against the CA in its -cacert"
}

// isClosed reports a connection the peer closed or reset.
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
}

// withoutClientAuth returns the first certificate of chain that does not
// allow TLS client authentication, or nil.
func withoutClientAuth(chain []*x509.Certificate) *x509.Certificate {
	for _, c := range chain {
		if !certs.HasUsage(c, x509.ExtKeyUsageClientAuth) {
			return c
		}
	}
	return nil
}

func leafOf(chain []*x509.Certificate) *x509.Certificate {
	if len(chain) == 0 {
		return nil
	}
	return chain[0]
}

func leafName(chain []*x509.Certificate) string {
	if len(chain) == 0 {
		return "<none>"
	}
	return chain[0].Subject.CommonName
}

func describeLeaf(chain []*x509.Certificate) string {
	if len(chain) == 0 {
		return "no certificate"
	}
	return fmt.Sprintf("the certificate %q issued by %q", chain[0].Subject.CommonName, chain[0].Issuer.CommonName)
}
