package probe

import (
	"crypto/tls"
	"fmt"

	"github.com/albistio/kubectl-albistio/pkg/certs"
	"github.com/albistio/kubectl-albistio/pkg/check"
)

// NewMaterial takes what the ALB presents and trusts from the client
// secret in the snapshot. When it cannot, it returns an ALB0810 finding
// saying why (the static findings say more).
func NewMaterial(in *check.Input) (*Material, *check.Finding) {
	s, p := in.Snapshot, in.Params
	obj := check.ObjectRef("Secret", p.IstioNamespace, p.ClientSecret)
	notRun := func(msg string) (*Material, *check.Finding) {
		f := check.NewFinding(check.ProbeNotRun, obj, "", msg, "fix the client secret first (see the other findings), usually by running kubectl albistio secrets")
		return nil, &f
	}
	if s.ClientSecret == nil {
		return notRun("the probe needs the ALB's client secret, which does not exist")
	}
	certKey, keyKey, _ := in.ClientKeys()
	cert, err := tls.X509KeyPair(s.ClientSecret.Data[certKey], s.ClientSecret.Data[keyKey])
	if err != nil {
		return notRun(fmt.Sprintf("the client secret's %s and %s do not make a key pair: %v", certKey, keyKey, err))
	}
	chainCerts, err := certs.ParseCertificates(s.ClientSecret.Data[certKey])
	if err != nil {
		return notRun(err.Error())
	}
	roots := in.ALBTrust()
	if len(roots) == 0 {
		return notRun("the client secret holds no CA certificates to verify the gateway with")
	}
	if len(p.Paths) == 0 || p.Host == "" || in.GatewaySNI() == "" {
		return notRun("the probe needs --host, --gateway-domain and a --path")
	}
	return &Material{
		ClientCert: cert, ClientChain: chainCerts, Roots: roots,
		ServerName: in.GatewaySNI(), Host: p.Host, Path: p.Paths[0],
	}, nil
}
