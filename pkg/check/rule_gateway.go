package check

import (
	"fmt"
	"slices"
	"strings"

	istionet "istio.io/api/networking/v1alpha3"
	istiov1 "istio.io/client-go/pkg/apis/networking/v1"
)

// checkGateway: the Gateway terminates the ALB's mutual TLS: a server on the
// HTTPS port, protocol HTTPS, mode MUTUAL with the gateway's secret, and
// hosts that take both the SNI the ALB sends (the gateway domain) and the
// Host header it forwards (--host). In cert-manager mode the secret is the
// hop's server certificate and the SNI the hop's server name.
func checkGateway(in *Input) []Finding {
	s, p := in.Snapshot, in.Params
	if s.IstioVersion == "" {
		return nil // the istio-api rule reports it
	}
	obj := ObjectRef("Gateway", p.IstioNamespace, p.GatewayName)
	gw := s.Gateway
	if gw == nil {
		return []Finding{NewFinding(GatewayMissing, obj, "",
			"the Istio Gateway that terminates the ALB's mutual TLS (shared by every chain behind this ALB and gateway) was not found",
			fmt.Sprintf("run kubectl albistio gateway -n %s, or set --gateway-name", p.AppNamespace))}
	}
	server, i := chainServer(gw, in)
	if server == nil {
		var ports []string
		for _, sv := range gw.Spec.GetServers() {
			ports = append(ports, fmt.Sprint(sv.GetPort().GetNumber()))
		}
		return []Finding{NewFinding(GatewayPortMissing, obj, "spec.servers",
			fmt.Sprintf("no server listens on port %d, the gateway Service port the ALB connects to (servers listen on %s)", p.GatewayServicePort, joinQuoted(ports)),
			"re-run kubectl albistio gateway, or set --gateway-service-port to the port the Gateway serves"),
		}
	}
	field := fmt.Sprintf("spec.servers[%d]", i)
	if proto := server.GetPort().GetProtocol(); !strings.EqualFold(proto, "HTTPS") {
		return []Finding{NewFinding(GatewayNotHTTPS, obj, field+".port.protocol",
			fmt.Sprintf("the server's protocol is %s, so the gateway does not terminate TLS there and the ALB's handshake fails", quote(proto)),
			"set the protocol to HTTPS (re-run kubectl albistio gateway)")}
	}
	var fs []Finding
	tls := server.GetTls()
	switch mode := tls.GetMode(); {
	case tls == nil:
		fs = append(fs, NewFinding(GatewayTLSModeBroken, obj, field+".tls",
			"the HTTPS server has no tls settings: Istio rejects it and the gateway serves nothing on the port",
			"set tls.mode MUTUAL and tls.credentialName (re-run kubectl albistio gateway)"))
		return fs
	case mode == istionet.ServerTLSSettings_MUTUAL:
	case mode == istionet.ServerTLSSettings_SIMPLE || mode == istionet.ServerTLSSettings_OPTIONAL_MUTUAL:
		fs = append(fs, NewFinding(GatewayNotMutual, obj, field+".tls.mode",
			fmt.Sprintf("the TLS mode is %s: the gateway does not require a client certificate, so anyone who reaches its address gets past it, not only the ALB", mode),
			"set tls.mode MUTUAL (re-run kubectl albistio gateway)"))
	default:
		fs = append(fs, NewFinding(GatewayTLSModeBroken, obj, field+".tls.mode",
			fmt.Sprintf("the TLS mode is %s, which the ALB cannot complete (ISTIO_MUTUAL wants an Istio-issued client certificate; PASSTHROUGH does not terminate TLS)", mode),
			"set tls.mode MUTUAL (re-run kubectl albistio gateway)"))
	}
	if cred := in.credentialName(); tls.GetCredentialName() != cred && !slices.Contains(tls.GetCredentialNames(), cred) {
		msg := fmt.Sprintf("credentialName is %s, not the gateway's secret %q, so the gateway presents another certificate and takes its client CA from %s-cacert", quote(tls.GetCredentialName()), cred, quote(tls.GetCredentialName()))
		fix := "set credentialName to --gateway-secret (re-run kubectl albistio gateway)"
		if in.certManager() {
			msg = fmt.Sprintf("credentialName is %s, not the hop's server certificate %q that cert-manager keeps for %s, so the gateway presents a certificate the ALB does not verify for that name and takes its client CA from elsewhere", quote(tls.GetCredentialName()), cred, p.HopServerName())
			fix = fmt.Sprintf("set credentialName to %s (re-run kubectl albistio setup)", cred)
		}
		fs = append(fs, NewFinding(GatewayCredentialWrong, obj, field+".tls.credentialName", msg, fix))
	}
	fs = append(fs, checkNamedClientCA(in, obj, field+".tls.caCertCredentialName")...)
	hosts := gatewayHosts(server.GetHosts())
	if sni := in.GatewaySNI(); !hostListed(hosts, sni) {
		fix := "add --gateway-domain to the Gateway's hosts (re-run kubectl albistio gateway)"
		if in.certManager() {
			fix = fmt.Sprintf("add %s, the hop's server name, to the Gateway's hosts (re-run kubectl albistio setup)", sni)
		}
		fs = append(fs, NewFinding(GatewayDomainNotOnHosts, obj, field+".hosts",
			fmt.Sprintf("the hosts %s do not include %s, the SNI the ALB sends: Envoy has no filter chain for it and resets the connection", joinQuoted(server.GetHosts()), sni),
			fix))
	}
	if p.Host != "" && !hostListed(hosts, p.Host) {
		fs = append(fs, NewFinding(HostNotOnGateway, obj, field+".hosts",
			fmt.Sprintf("the hosts %s do not include %s, the Host header the ALB forwards: requests find no route and get 404", joinQuoted(server.GetHosts()), p.Host),
			"add --host to the Gateway's hosts (re-run kubectl albistio gateway)"))
	}
	return fs
}

// chainServer is the Gateway server the ALB's connections land on: one on
// the gateway Service's HTTPS port, preferably the one whose hosts take the
// name the ALB sends as SNI. It returns nil when no server listens on the port.
func chainServer(gw *istiov1.Gateway, in *Input) (*istionet.Server, int) {
	if gw == nil {
		return nil, -1
	}
	p := in.Params
	var first *istionet.Server
	firstIdx := -1
	for i, sv := range gw.Spec.GetServers() {
		if sv.GetPort().GetNumber() != uint32(p.GatewayServicePort) {
			continue
		}
		if hostListed(gatewayHosts(sv.GetHosts()), in.GatewaySNI()) {
			return sv, i
		}
		if first == nil {
			first, firstIdx = sv, i
		}
	}
	return first, firstIdx
}

// checkNamedClientCA judges a caCertCredentialName that names another
// client CA than <credential>-cacert as Istio's SDS reads it: a name not
// ending in -cacert is read as a certificate and key, so the server gets no
// validation context and every handshake fails (ALB0416); a -cacert name is
// read as a CA (cacert before ca.crt), which must exist and parse
// (ALB0417). Whether it verifies the ALB's chain is the client-trust
// rule's (ALB0202); that the plugin does not keep it in step is ALB0415.
func checkNamedClientCA(in *Input, obj, field string) []Finding {
	name, readAsCA := in.namedClientCA()
	if name == "" {
		return nil
	}
	p := in.Params
	fix := fmt.Sprintf("remove caCertCredentialName (kubectl albistio gateway does not set it) or set it to %s", p.ClientCASecret())
	keeper := fmt.Sprintf("%q, which the plugin keeps in step with the ALB's client certificate", p.ClientCASecret())
	if in.certManager() {
		fix = "remove caCertCredentialName (kubectl albistio setup does not set it)"
		keeper = fmt.Sprintf("the ca.crt of %q, which cert-manager keeps in step with the ALB's client certificate", in.credentialName())
	}
	if !readAsCA {
		return []Finding{NewFinding(GatewayClientCANotCA, obj, field,
			fmt.Sprintf("caCertCredentialName is %s, a name without the %s suffix: Istio's SDS reads such a name as a certificate and key, not as a CA, so the server has no client CA to verify the ALB with and every handshake fails (502)", quote(name), clientCASuffix),
			fix)}
	}
	sec := in.Snapshot.NamedClientCA
	ref := ObjectRef("Secret", p.IstioNamespace, name)
	if sec == nil {
		return []Finding{NewFinding(GatewayClientCAMissing, obj, field,
			fmt.Sprintf("caCertCredentialName is %s, but %s was not found: Istio has no client CA to verify the ALB with and does not serve the listener", quote(name), ref),
			fix)}
	}
	if cas, _ := in.gatewayClientCAs(); len(cas) == 0 {
		why := fmt.Sprintf("holds neither cacert nor ca.crt (it has %s)", dataKeys(sec))
		for _, k := range caKeys() {
			if len(sec.Data[k]) > 0 {
				_, f := parseCerts(sec, k, "")
				why = fmt.Sprintf("has a %s that does not parse", k)
				if len(f) > 0 {
					why += ": " + f[0].Message
				}
				break
			}
		}
		return []Finding{NewFinding(GatewayClientCAMissing, obj, field,
			fmt.Sprintf("caCertCredentialName is %s, and %s %s: Istio has no client CA to verify the ALB with and does not serve the listener", quote(name), ref, why),
			fix)}
	}
	return []Finding{NewFinding(GatewayClientCAOther, obj, field,
		fmt.Sprintf("caCertCredentialName is %s: Istio verifies client certificates with the CA in %s, not with %s; check verified the ALB's chain against it, but nothing keeps it in step when the ALB's client certificate changes", quote(name), ref, keeper),
		fix)}
}
