package check

import (
	"fmt"
	"strings"

	"github.com/albistio/kubectl-albistio/pkg/certs"
	"github.com/albistio/kubectl-albistio/pkg/flavor"
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
	want := in.GatewaySNI()
	fix := fmt.Sprintf("set %s to %s, the gateway domain (re-run kubectl albistio ingress)", sn.setting, want)
	if in.certManager() {
		fix = fmt.Sprintf("set %s to %s, the name of the hop's server certificate (re-run kubectl albistio setup)", sn.setting, want)
	}
	if sn.name == "" {
		return []Finding{NewFinding(ServerNameMissing, sn.object, sn.field, sn.missing, fix)}
	}
	if strings.EqualFold(sn.name, want) {
		return nil
	}
	var fs []Finding
	if gw := in.gatewayPair(); gw != nil {
		if leaf := gw.Leaf(); certs.CheckCovers(leaf, sn.name) != nil {
			fs = append(fs, NewFinding(ServerNameNotInCert, sn.object, sn.field,
				fmt.Sprintf("the ALB verifies the gateway's certificate for %s, and that certificate is valid for %s only: verification fails and the ALB answers 502", quote(sn.name), joinQuoted(leaf.DNSNames)), fix))
		}
	}
	if gw := in.Snapshot.Gateway; gw != nil {
		if server, _ := chainServer(gw, in); server != nil && !hostListed(gatewayHosts(server.GetHosts()), sn.name) {
			fs = append(fs, NewFinding(ServerNameNotOnGateway, sn.object, sn.field,
				fmt.Sprintf("the ALB sends the SNI %s, which is not among the Gateway's hosts %s: Envoy has no filter chain for it and resets the connection", quote(sn.name), joinQuoted(server.GetHosts())), fix))
		}
	}
	if hosts := in.gatewayAPIHosts(); hosts != nil && !hostListed(hosts, sn.name) {
		fs = append(fs, NewFinding(ServerNameNotOnGateway, sn.object, sn.field,
			fmt.Sprintf("the ALB sends the SNI %s, which no HTTPS listener's hostname of the Gateway takes (%s): Envoy has no filter chain for it and resets the connection", quote(sn.name), joinQuoted(hosts)), fix))
	}
	return fs
}

// serverName is the name the ALB uses for the gateway, and where it is set.
type serverName struct {
	name, object, field, setting, missing string
}

// albServerName is the flavor's server name as its controller reads it
// (flavor.UpstreamTLS); ok is false when there is nothing to judge (no
// Ingress or transport, or a pasted value).
func albServerName(in *Input) (serverName, bool) {
	u, ok := in.upstreamTLS()
	if !ok || !u.ServerName.Known {
		return serverName{}, false
	}
	sn := u.ServerName
	return serverName{
		name: sn.Value, object: flavorRef(sn.Object), field: sn.Field,
		setting: sn.Setting, missing: sn.Missing,
	}, true
}

// upstreamTLS is how the chain's ALB connects to the gateway, read from
// the snapshot as the flavor's controller reads it; ok is false while the
// flavor is not detected.
func (in *Input) upstreamTLS() (flavor.UpstreamTLS, bool) {
	fl := flavor.For(in.Params.Flavor)
	if fl == nil {
		return flavor.UpstreamTLS{}, false
	}
	s := in.Snapshot
	return fl.UpstreamTLS(in.Params, flavor.Stored{Ingress: s.Ingress, Service: s.BackendService, Transport: s.ServersTransport}), true
}

// flavorRef names an object the flavor read a setting from, as findings do.
func flavorRef(o flavor.ObjectRef) string { return ObjectRef(o.Kind, o.Namespace, o.Name) }
