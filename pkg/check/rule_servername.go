package check

import (
	"fmt"
	"strings"

	"github.com/albistio/kubectl-albistio/pkg/certs"
	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// checkServerName: the name the ALB sends as SNI and verifies the gateway's
// certificate against is set, is covered by the gateway certificate, and is
// one of the Gateway's hosts. When it is the gateway domain itself (in
// cert-manager mode the hop's server name), the names and gateway rules
// already judge it.
func checkServerName(in *Input) []Finding {
	sn, ok := albServerName(in)
	if !ok {
		return nil
	}
	want := in.gatewaySNI()
	fix := fmt.Sprintf("set %s to %s, the gateway domain (re-run kubectl albistio ingress)", sn.setting, want)
	if in.certManager() {
		fix = fmt.Sprintf("set %s to %s, the name of the hop's server certificate (re-run kubectl albistio setup)", sn.setting, want)
	}
	if sn.name == "" {
		return []Finding{newFinding(ServerNameMissing, sn.object, sn.field, sn.missing, fix)}
	}
	if strings.EqualFold(sn.name, want) {
		return nil
	}
	var fs []Finding
	if gw := in.gatewayPair(); gw != nil {
		if leaf := gw.Leaf(); certs.CheckCovers(leaf, sn.name) != nil {
			fs = append(fs, newFinding(ServerNameNotInCert, sn.object, sn.field,
				fmt.Sprintf("the ALB verifies the gateway's certificate for %s, and that certificate is valid for %s only: verification fails and the ALB answers 502", quote(sn.name), joinQuoted(leaf.DNSNames)), fix))
		}
	}
	if gw := in.Snapshot.Gateway; gw != nil {
		if server, _ := chainServer(gw, in); server != nil && !hostListed(gatewayHosts(server.GetHosts()), sn.name) {
			fs = append(fs, newFinding(ServerNameNotOnGateway, sn.object, sn.field,
				fmt.Sprintf("the ALB sends the SNI %s, which is not among the Gateway's hosts %s: Envoy has no filter chain for it and resets the connection", quote(sn.name), joinQuoted(server.GetHosts())), fix))
		}
	}
	if hosts := in.gatewayAPIHosts(); hosts != nil && !hostListed(hosts, sn.name) {
		fs = append(fs, newFinding(ServerNameNotOnGateway, sn.object, sn.field,
			fmt.Sprintf("the ALB sends the SNI %s, which no HTTPS listener's hostname of the Gateway takes (%s): Envoy has no filter chain for it and resets the connection", quote(sn.name), joinQuoted(hosts)), fix))
	}
	return fs
}

// serverName is the name the ALB uses for the gateway, and where it is set.
type serverName struct {
	name, object, field, setting, missing string
}

// albServerName reads the flavor's setting; ok is false when there is
// nothing to judge (no Ingress or transport, or a pasted value).
func albServerName(in *Input) (serverName, bool) {
	s := in.Snapshot
	switch in.Params.Flavor {
	case chain.FlavorNginx:
		if s.Ingress == nil {
			return serverName{}, false
		}
		v := strings.TrimSpace(s.Ingress.Annotations[render.NginxProxySSLName])
		return serverName{
			name: v, object: objectRef("Ingress", s.Ingress.Namespace, s.Ingress.Name),
			field: annotationField(render.NginxProxySSLName), setting: render.NginxProxySSLName,
			missing: "proxy-ssl-name is not set: nginx verifies the gateway's certificate for, and sends as SNI, its upstream name \"upstream_balancer\", which neither the certificate nor the Gateway knows",
		}, !pastedKV(v)
	case chain.FlavorTraefik:
		st := s.ServersTransport
		if st == nil {
			return serverName{}, false
		}
		return serverName{
			name: strings.TrimSpace(st.Spec.ServerName), object: objectRef("ServersTransport", st.Namespace, st.Name),
			field: "spec.serverName", setting: "the ServersTransport's serverName",
			missing: "serverName is not set: Traefik connects to a pod address and sends no SNI the gateway knows, so Envoy has no filter chain for the connection",
		}, true
	case chain.FlavorClassic:
		svc, ok := classicService(in)
		if !ok {
			return serverName{}, false
		}
		return serverName{
			name: svc["proxy-ssl-name"], object: objectRef("Ingress", s.Ingress.Namespace, s.Ingress.Name),
			field: annotationField(render.ClassicSSLServices), setting: "proxy-ssl-name in " + render.ClassicSSLServices,
			missing: "ssl-services sets no proxy-ssl-name: the ALB does not send the gateway domain as SNI",
		}, true
	}
	return serverName{}, false
}
