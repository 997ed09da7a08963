package check

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	istionet "istio.io/api/networking/v1alpha3"
	istiov1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// evilValue is what a crafted object can carry in any string: an OSC
// sequence that retitles the terminal, a CSI colour change, a C1 CSI, a
// right-to-left override and 10 kB of padding. It has no '=' or ':' (the
// rules skip pasted key=value annotations) and no space (ssl-services is
// split on spaces).
var evilValue = "\x1b]0;pwned\x07\x1b[31m\u009b1m\u202e" + strings.Repeat("A", 10_000)

// maxFindingText bounds a finding's message or fix: generous for honest
// findings, far below the padding in evilValue.
const maxFindingText = 2000

// rawControl returns the byte offset of the first character in s a terminal
// could act on or that reorders text (C0 but newline and tab, DEL, C1, bidi
// controls, invalid UTF-8), or -1.
func rawControl(s string) int {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1,
			r < 0x20 && r != '\n' && r != '\t', r >= 0x7f && r <= 0x9f,
			r == 0x061c, r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			return i
		}
		i += size
	}
	return -1
}

// evilInput is a snapshot in which every string the rules echo from the
// cluster is evilValue: annotations, the Gateway's hosts, selector,
// protocol and credential names, the VirtualService's hosts, the
// ServersTransport, a copied secret's source and PEM data in secrets.
func evilInput(t *testing.T, flavor chain.Flavor) *Input {
	t.Helper()
	p := testParams(t, flavor, chain.IdentityAuto, 0)
	evilPEM := []byte("-----BEGIN " + evilValue + "-----\nMIIB\n-----END " + evilValue + "-----\n")
	port := uint32(p.GatewayServicePort)
	annotations := map[string]string{"kubernetes.io/ingress.class": evilValue,
		render.ClassicSSLServices: "ssl-service=" + p.GatewayService + " ssl-secret=" + evilValue + " proxy-ssl-name=" + evilValue}
	for _, k := range []string{render.NginxBackendProtocol, render.NginxProxySSLVerify, render.NginxProxySSLVerifyDepth, render.NginxProxySSLName,
		render.NginxProxySSLServerName, render.TraefikRouterTLS, render.TraefikRouterEntryPoints} {
		annotations[k] = evilValue
	}
	annotations[render.NginxProxySSLSecret] = evilValue + "/" + evilValue
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: p.IngressName, Namespace: p.IstioNamespace, Annotations: annotations}}
	gw := &istiov1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: p.GatewayName, Namespace: p.IstioNamespace}}
	gw.Spec.Selector = map[string]string{"istio": evilValue}
	gw.Spec.Servers = []*istionet.Server{{
		Port:  &istionet.Port{Number: port, Protocol: evilValue, Name: "https"},
		Hosts: []string{evilValue},
		Tls:   &istionet.ServerTLSSettings{Mode: istionet.ServerTLSSettings_MUTUAL, CredentialName: evilValue, CaCertCredentialName: evilValue},
	}}
	vs := &istiov1.VirtualService{ObjectMeta: metav1.ObjectMeta{Name: p.VirtualServiceName, Namespace: p.AppNamespace}}
	vs.Spec.Gateways = []string{evilValue}
	vs.Spec.Hosts = []string{evilValue}
	vs.Spec.Http = []*istionet.HTTPRoute{{Route: []*istionet.HTTPRouteDestination{{Destination: &istionet.Destination{Host: evilValue}}}}}
	secret := func(ns, name string, data map[string][]byte, annotations map[string]string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: annotations}, Data: data}
	}
	copied := map[string]string{chain.AnnotationSource: evilValue, chain.AnnotationSourceHash: evilValue}
	backend := gatewayService(p.GatewayServicePort)
	backend.Annotations = map[string]string{render.TraefikServiceTransport: evilValue, render.TraefikServiceServerScheme: evilValue}
	s := &Snapshot{
		IstioServed: []string{"v1"}, IstioVersion: "v1",
		Ingress: ing, Gateway: gw, VirtualService: vs, BackendService: backend,
		GatewayPods: []corev1.Pod{*gatewayPod("istio-ingressgateway-7d9f8-abcde")},
		ServersTransport: &ServersTransport{Namespace: p.IstioNamespace, Name: p.TransportName(),
			Spec: ServersTransportSpec{ServerName: evilValue, CertificatesSecrets: []string{evilValue}}},
		ALBSecret:     secret(p.ALBSecretNamespace, p.ALBSecret, map[string][]byte{"tls.crt": evilPEM, "tls.key": evilPEM}, nil),
		GatewaySecret: secret(p.IstioNamespace, p.GatewaySecret, map[string][]byte{"tls.crt": evilPEM, "tls.key": evilPEM}, nil),
		ClientSecret:  secret(p.IstioNamespace, p.ClientSecret, map[string][]byte{"tls.crt": evilPEM, "tls.key": evilPEM, "ca.crt": evilPEM}, copied),
		CACert:        secret(p.IstioNamespace, p.ClientCASecret(), map[string][]byte{"ca.crt": evilPEM}, copied),
	}
	return &Input{Params: p, Snapshot: s, Now: time.Now()}
}

// Every rule that echoes a value read from the cluster quotes and shortens
// it: no finding's message or fix carries a raw control or bidi character
// or runs to pages, whatever the objects hold.
func TestFindingsQuoteClusterValues(t *testing.T) {
	for _, flavor := range []chain.Flavor{chain.FlavorNginx, chain.FlavorTraefik, chain.FlavorClassic} {
		t.Run(string(flavor), func(t *testing.T) {
			fs := Run(evilInput(t, flavor))
			echoed := 0
			for _, f := range fs {
				for name, text := range map[string]string{"message": f.Message, "fix": f.Fix} {
					if i := rawControl(text); i >= 0 {
						t.Errorf("%s %s: the %s carries a raw control at byte %d: %q", f.Code, f.Object, name, i, text[max(i-80, 0):min(i+80, len(text))])
					}
					if len(text) > maxFindingText {
						t.Errorf("%s %s: the %s is %d bytes long: %q…", f.Code, f.Object, name, len(text), text[:200])
					}
				}
				if strings.Contains(f.Message, `\x1b]0;pwned`) {
					echoed++
				}
			}
			// The values are still shown, escaped: the operator can see what
			// the object says.
			if echoed < 5 {
				t.Errorf("only %d of %d findings show an escaped value; the snapshot did not reach the rules it was meant for", echoed, len(fs))
			}
		})
	}
}

// The report writers are the last line of defence: a control character
// that reached a finding without being quoted is escaped in text, JSON and
// YAML alike, and the YAML writer does not fail on it.
func TestReportEscapesControls(t *testing.T) {
	raw := "\x1b]0;pwned\x07 \x1b[2J \u009b31m \u202e \x00 \x7f \r"
	f := NewFinding(SecretUnparsable, "Secret default/x"+raw, "data["+raw+"]", "bad data: "+raw, "fix "+raw)
	r := NewReport([]Finding{f})
	for _, format := range []string{FormatText, FormatJSON, FormatYAML} {
		for _, color := range []bool{false, true} {
			var buf bytes.Buffer
			if err := r.Write(&buf, format, color); err != nil {
				t.Fatalf("%s: %v", format, err)
			}
			out := buf.String()
			if color && format == FormatText {
				// The writer's own colour is the one escape it may send.
				out = strings.NewReplacer("\x1b[31m", "", "\x1b[0m", "").Replace(out)
			}
			if i := rawControl(out); i >= 0 {
				t.Errorf("%s (colour %v): raw control at byte %d: %q", format, color, i, out)
			}
			shown := `\x1b]0;pwned\a`
			if format == FormatJSON {
				shown = `\\x1b]0;pwned\\a` // JSON doubles the backslash
			}
			if !strings.Contains(out, shown) {
				t.Errorf("%s: the escaped value is not shown: %q", format, out)
			}
		}
	}
	// A newline in a finding would start a line that reads as a finding of
	// its own.
	var text bytes.Buffer
	forged := NewFinding(SecretUnparsable, "Secret default/x", "", "bad\nERROR   ALB0101 Secret default/y: forged", "fix")
	if err := NewReport([]Finding{forged}).Write(&text, FormatText, false); err != nil {
		t.Fatal(err)
	}
	// One line for the finding, the reference and the summary.
	if strings.Count(text.String(), "\n") != 3 || !strings.Contains(text.String(), `bad\nERROR`) {
		t.Errorf("a newline in a message starts a line of its own: %q", text.String())
	}

	// JSON and YAML still decode, to the escaped text.
	var buf bytes.Buffer
	if err := r.Write(&buf, FormatYAML, false); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := yaml.Unmarshal(buf.Bytes(), &back); err != nil || len(back.Findings) != 1 || !strings.HasPrefix(back.Findings[0].Message, `bad data: \x1b]0;pwned\a`) {
		t.Errorf("the YAML report does not read back (%v): %+v", err, back)
	}
	buf.Reset()
	if err := r.Write(&buf, FormatJSON, false); err != nil {
		t.Fatal(err)
	}
	back = Report{}
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || len(back.Findings) != 1 || back.Findings[0].Fix != `fix \x1b]0;pwned\a \x1b[2J \u009b31m \u202e \x00 \x7f \r` {
		t.Errorf("the JSON report does not read back (%v): %+v", err, back)
	}
	// The caller's findings are not rewritten.
	if r.Findings[0].Message != "bad data: "+raw {
		t.Error("Write changed the report it was given")
	}
}
