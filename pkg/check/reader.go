package check

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	istiov1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/albistio/kubectl-albistio/pkg/chain"
	"github.com/albistio/kubectl-albistio/pkg/kube"
	"github.com/albistio/kubectl-albistio/pkg/render"
)

// API is what Read needs from the cluster; *kube.Clients implements it.
// Get returns (nil, nil) for an object that does not exist; GetServed also
// says whether the resource is served at all.
type API interface {
	Get(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, error)
	GetServed(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, bool, error)
	List(ctx context.Context, gvr schema.GroupVersionResource, namespace, labelSelector string) ([]unstructured.Unstructured, error)
	APIGroup(ctx context.Context, group string) (*metav1.APIGroup, error)
}

// RawAPI is an API that also hands over what it reads as the JSON the
// server sent, which the reader decodes once, straight into each object's
// Go type, instead of into a map and then through JSON again into the type
// (which was half of check's CPU). kube.Clients, its Recall and fleet.Memo
// are RawAPIs; any other API is read through its unstructured answers, to
// the same Snapshot.
type RawAPI interface {
	// GetServedRaw is GetServed with the object's JSON (nil when missing).
	GetServedRaw(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) ([]byte, bool, error)
	// ListRaw is List with the JSON of the list.
	ListRaw(ctx context.Context, gvr schema.GroupVersionResource, namespace, labelSelector string) ([]byte, error)
}

// Requests is what Read costs on a healthy chain of the nginx or classic
// flavor: one LIST of IngressClasses (cluster-scoped, a handful), one LIST
// of the plugin's own secrets in the Istio namespace, one LIST of the gateway
// pods by --gateway-selector, and GETs by name of the IKS ALB and gateway
// secrets, the Ingress, Gateway, VirtualService, gateway Service, app
// namespace and app Service. Traefik adds its ServersTransport and the
// plugin's Service (MaxRequests). None of these depends on how many objects
// the cluster holds. Only an unhealthy chain costs more: one discovery
// request when Istio's v1 is not served, one GET per expected secret that is
// missing from the LIST (or per secret, when a Role forbids the LIST). A
// copy of the ALB secret that IKS keeps in the Istio namespace is not the
// plugin's, so not in the LIST: it costs one GET. So does the secret a
// Gateway server's caCertCredentialName names (when it ends in -cacert and
// is not the plugin's -cacert), which the plugin never sets.
//
// An nginx-flavored check in a cluster that also has an IngressClass of
// IKS's Traefik ALB reads the ConfigMap kube-system/ibm-ingress-deploy-config
// (one GET) and, for each ALB it lists as running Traefik's ingress-nginx
// provider for the Ingress class's visibility, its Deployment (one GET
// each): a plain nginx or Traefik check reads neither.
//
// A cert-manager hop costs CertManagerRequests more: GETs by name of its two
// Issuers and three Certificates, and of <server secret>-cacert, which
// should not exist (its server secret comes with the LIST; the unused
// <gateway-secret>-cacert is not read). No other hop reads them.
//
// Gateway API mode (chain.Params.GatewayAPI) reads, instead of the Istio
// Gateway and VirtualService, the Gateway CRD (for its release and
// channel), the Gateway, its GatewayClass, the HTTPRoute and the ConfigMap
// the frontend validation names: GatewayAPIRequests more. Only an unusual
// chain costs more again: one LIST of ReferenceGrants per namespace a
// reference crosses into, and for a frontend validation naming a Secret,
// GETs of that Secret and its -cacert instead of the ConfigMap.
const (
	Requests            = 11
	MaxRequests         = Requests + 2
	CertManagerRequests = 6
	GatewayAPIRequests  = 3
)

// readParallelism bounds how many of Read's requests are in flight at once.
// Read makes about a dozen, most of them independent: issuing them together
// turns a dozen round trips into two or three, while the bound keeps one
// check from taking more than a fair share of the API server's
// max-in-flight budget (or of client-go's HTTP/2 streams) in a cluster that
// other clients also talk to.
const readParallelism = 8

// The steps of a Read in the order in which it used to issue them one after
// the other. Requests now run concurrently, but an error is still reported
// as that sequence would have: the one of the lowest step wins, so the same
// failure gives the same error (and exit code) however the requests raced.
// A step only ever waits for steps before it, which keeps that order a
// valid sequential one.
const (
	stepIngressClasses = iota
	stepOwnedSecrets
	stepALBSecret
	stepGatewaySecret
	stepClientSecret
	stepCACert
	stepCASecret
	stepHopServerSecret // cert-manager mode only, as are the steps after stepServersTransport
	stepIngress
	stepIngressTLSSecret
	stepGateway // the Gateway at v1, and when v1 is not served discovery and the Gateway again
	stepVirtualService
	stepNamedClientCA // the secret caCertCredentialName names, only when set
	stepGatewayService
	stepGatewayPods
	stepAppNamespace
	stepAppService
	stepBackendService
	stepServersTransport
	stepTraefikCompat  // nginx flavor with a Traefik IngressClass only
	stepALBDeployments // one GET per ALB running Traefik's ingress-nginx provider
	stepNginxALBs      // ibm-ingress-deploy-config and the ALB Deployments, only for a proxy-ssl-secret releases read differently
	stepSelfSignedIssuer
	stepCACertificate
	stepCAIssuer
	stepClientCertificate
	stepServerCertificate
	// Gateway API mode only (gatewayapi.go), instead of stepGateway and
	// stepVirtualService.
	stepGatewayAPICRD
	stepGatewayAPIGateway
	stepGatewayClass
	stepHTTPRoute
	stepClientCAConfigMap
	stepReferenceGrants
)

// certManagerRead is one of the hop's cert-manager objects Read gets by
// name, in the order of the steps above.
type certManagerRead struct {
	step int
	gvr  schema.GroupVersionResource
	name string
	into **CertManagerObject
}

func certManagerReads(s *Snapshot, p *chain.Params) []certManagerRead {
	return []certManagerRead{
		{stepSelfSignedIssuer, kube.Issuers, p.SelfSignedIssuer(), &s.SelfSignedIssuer},
		{stepCACertificate, kube.Certificates, p.CASecret, &s.CACertificate},
		{stepCAIssuer, kube.Issuers, p.CASecret, &s.CAIssuer},
		{stepClientCertificate, kube.Certificates, p.ClientSecret, &s.ClientCertificate},
		{stepServerCertificate, kube.Certificates, p.HopServerSecret(), &s.ServerCertificate},
	}
}

// Read takes a Snapshot of the chain p describes. It needs only get and list
// permissions. When p.Flavor is auto, Read resolves it from the
// IngressClasses it reads (setting p.Flavor and, if empty, p.IngressClass)
// or records why it could not in Snapshot.FlavorError. Errors are API
// failures (forbidden, unreachable); absent objects are not errors but nil
// fields, which the rules report.
//
// The client secret also says whether the hop is cert-manager's
// (hopIsCertManager); then Read sets p.Identity to cert-manager, reads the
// hop's Issuers, Certificates and server secret, and takes the client CA
// from <server secret>-cacert instead of <gateway-secret>-cacert.
//
// The requests are the ones a sequential read makes, issued concurrently
// (at most readParallelism at once) wherever one does not depend on
// another's answer: the secrets of the Istio namespace wait for the LIST
// that may already bring them, the private CA, -cacert and cert-manager's
// objects for the client secret that says which are used, the Ingress's TLS secret for the Ingress, the
// VirtualService for the Gateway (whose answer gives the Istio version), and
// Traefik's objects for the IngressClasses that resolve the flavor.
func Read(ctx context.Context, api API, p *chain.Params) (*Snapshot, error) {
	return read(ctx, api, p, readParallelism)
}

func read(ctx context.Context, api API, p *chain.Params, parallelism int) (*Snapshot, error) {
	r := &reader{ctx: ctx, api: api, slots: make(chan struct{}, parallelism), ownedNamespace: p.IstioNamespace}
	r.raw, _ = api.(RawAPI)
	s := &Snapshot{}
	ns := p.IstioNamespace
	if p.GatewayAPI {
		p.GatewaySelector = gatewayAPIPodSelector(p)
	}

	// Reads that others wait for go first, so that they get the first slots.
	owned := r.async(func() { r.readOwnedSecrets() })
	classes := r.async(func() { r.readIngressClasses(s, p) })
	ingress := r.async(func() {
		s.Ingress = getInto[networkingv1.Ingress](r, stepIngress, kube.Ingresses, ns, p.IngressName)
	})
	istio := r.async(func() {
		if p.GatewayAPI {
			r.readGatewayAPI(s, p)
			return
		}
		r.readIstio(s, p)
	})
	albSecret := r.async(func() { s.ALBSecret = r.secret(stepALBSecret, owned, p.ALBSecretNamespace, p.ALBSecret) })
	// The client secret says whether the hop is cert-manager's (written
	// before client is closed, read only after).
	certManager := false
	client := r.async(func() {
		s.ClientSecret = r.secret(stepClientSecret, owned, ns, p.ClientSecret)
		certManager = hopIsCertManager(p, s.ClientSecret, r.owned)
	})
	r.async(func() { s.GatewaySecret = r.secret(stepGatewaySecret, owned, ns, p.GatewaySecret) })
	r.async(func() {
		<-client
		if p.GatewayAPI {
			// Istio reads no <credential>-cacert for a Gateway whose
			// frontend validation names its CA (gatewayAPICACert): only
			// one the plugin left from the classic API is looked for, in
			// the LIST, at no extra request.
			<-owned
			s.CACert = r.owned[clientCAName(p, certManager)]
			return
		}
		s.CACert = r.secret(stepCACert, owned, ns, clientCAName(p, certManager))
	})
	r.async(func() {
		<-istio
		<-client
		name := namedClientCAName(s.Gateway, p, certManager)
		if name != "" {
			s.NamedClientCA = r.secret(stepNamedClientCA, owned, ns, name)
		}
	})
	r.async(func() {
		<-client
		if certManager || usesPrivateCA(s.ClientSecret, p) {
			s.CASecret = r.secret(stepCASecret, owned, ns, p.CASecret)
		}
	})
	r.async(func() {
		<-client
		if certManager {
			s.HopServerSecret = r.secret(stepHopServerSecret, owned, ns, p.HopServerSecret())
		}
	})
	cmReads := certManagerReads(s, p)
	served := make([]bool, len(cmReads))
	for i, cr := range cmReads {
		r.async(func() {
			<-client
			if !certManager {
				return
			}
			var u *unstructured.Unstructured
			if !r.call(cr.step, func() (err error) {
				u, served[i], err = r.api.GetServed(r.ctx, cr.gvr, ns, cr.name)
				return err
			}) || u == nil {
				return
			}
			*cr.into = r.certManagerObject(cr.step, u)
		})
	}
	r.async(func() {
		<-ingress
		tlsName := ingressTLSSecretName(s.Ingress, p)
		if ns == p.ALBSecretNamespace && tlsName == p.ALBSecret {
			<-albSecret
			s.IngressTLSSecret = s.ALBSecret
			return
		}
		s.IngressTLSSecret = r.secret(stepIngressTLSSecret, owned, ns, tlsName)
	})
	r.async(func() {
		s.GatewayService = getInto[corev1.Service](r, stepGatewayService, kube.Services, ns, p.GatewayService)
	})
	if len(p.GatewaySelector) > 0 {
		selector := p.SelectorString()
		r.async(func() {
			s.GatewayPods, _ = listInto[corev1.Pod](r, stepGatewayPods, kube.Pods, ns, selector)
		})
	}
	r.async(func() {
		s.AppNamespace = getInto[corev1.Namespace](r, stepAppNamespace, kube.Namespaces, "", p.AppNamespace)
	})
	r.async(func() {
		s.AppService = getInto[corev1.Service](r, stepAppService, kube.Services, p.AppNamespace, p.Service)
	})
	// Traefik's objects only once the flavor is known: --alb-flavor=auto is
	// resolved from the IngressClasses.
	r.async(func() {
		<-classes
		if p.Flavor == chain.FlavorTraefik {
			s.BackendService = getInto[corev1.Service](r, stepBackendService, kube.Services, ns, p.BackendService())
		}
	})
	r.async(func() {
		<-classes
		if p.Flavor != chain.FlavorTraefik {
			return
		}
		if u := r.get(stepServersTransport, kube.ServersTransport, ns, p.TransportName()); u != nil {
			st := &ServersTransport{Namespace: u.GetNamespace(), Name: u.GetName(), ManagedFields: u.GetManagedFields()}
			if spec, ok := u.Object["spec"]; ok {
				r.convertJSON(stepServersTransport, spec, &st.Spec)
			}
			s.ServersTransport = st
		}
	})
	r.async(func() {
		<-classes
		<-ingress
		r.readTraefikCompat(s, p)
		r.readNginxALBs(s, p)
	})
	r.wg.Wait()
	if r.err != nil {
		return nil, r.err
	}
	if certManager {
		s.CertManager, s.CertManagerServed = true, !slices.Contains(served, false)
		p.Identity = chain.IdentityCertManager
	}
	return s, nil
}

// namedClientCAName is the secret to read for the chain's Gateway server's
// caCertCredentialName: the name when it ends in -cacert and is not the
// -cacert Read gets anyway, else "" (a name without the suffix Istio
// never reads as a CA, so the rules judge it by its name alone).
func namedClientCAName(gw *istiov1.Gateway, p *chain.Params, certManager bool) string {
	in := &Input{Params: p, Snapshot: &Snapshot{Gateway: gw, CertManager: certManager}}
	server, _ := chainServer(gw, in)
	name := server.GetTls().GetCaCertCredentialName()
	if !strings.HasSuffix(name, clientCASuffix) || name == clientCAName(p, certManager) {
		return ""
	}
	return name
}

// clientCASuffix ends the names Istio's SDS reads as a CA only (istio
// pilot/pkg/credentials: a resource name "<name>-cacert"); any other name is
// read as a certificate and key.
const clientCASuffix = "-cacert"

// clientCAName is the secret Istio reads the Gateway credential's client
// CA from when it exists: <credential>-cacert.
func clientCAName(p *chain.Params, certManager bool) string {
	if certManager {
		return p.HopServerSecret() + "-cacert"
	}
	return p.ClientCASecret()
}

// certManagerObject decodes an Issuer or a Certificate.
func (r *reader) certManagerObject(step int, u *unstructured.Unstructured) *CertManagerObject {
	o, err := decodeCertManager(u)
	if err != nil {
		r.fail(step, err)
		return nil
	}
	return o
}

func decodeCertManager(u *unstructured.Unstructured) (*CertManagerObject, error) {
	var obj struct {
		Metadata struct {
			Generation int64 `json:"generation"`
		} `json:"metadata"`
		Spec   CertManagerSpec   `json:"spec"`
		Status CertManagerStatus `json:"status"`
	}
	data, err := u.MarshalJSON()
	if err == nil {
		err = json.Unmarshal(data, &obj)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s is malformed: %w", u.GetKind(), objectName(u.GetNamespace(), u.GetName()), err)
	}
	return &CertManagerObject{Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName(),
		Generation: obj.Metadata.Generation, Spec: obj.Spec, Status: obj.Status, ManagedFields: u.GetManagedFields()}, nil
}

// readIngressClasses reads the cluster's IngressClasses and, for
// --alb-flavor=auto, resolves the flavor from them.
func (r *reader) readIngressClasses(s *Snapshot, p *chain.Params) {
	var ok bool
	if s.IngressClasses, ok = listInto[networkingv1.IngressClass](r, stepIngressClasses, kube.IngressClasses, "", ""); !ok {
		return
	}
	if p.Flavor == chain.FlavorAuto {
		f, class, err := kube.FlavorFromClasses(s.IngressClasses)
		if err != nil {
			s.FlavorError = err.Error()
		} else {
			p.Flavor = f
			if p.IngressClass == "" {
				p.IngressClass = class
			}
		}
	}
}

// readIstio reads the Gateway and VirtualService. It asks for the Gateway
// at v1 (Istio 1.22 and later) without discovering first: the answer says
// whether v1 is served, so a current cluster costs no discovery request.
// Only when v1 is not served does discovery say which version is (v1beta1,
// read as such) or that Istio is not installed.
func (r *reader) readIstio(s *Snapshot, p *chain.Params) {
	v1 := render.IstioVersions[0]
	gw, served, ok := getServedInto[istiov1.Gateway](r, stepGateway, kube.IstioResource(v1, "gateways"), p.IstioNamespace, p.GatewayName)
	if !ok {
		return
	}
	if served {
		s.IstioServed, s.IstioVersion = []string{v1}, v1
	} else {
		var group *metav1.APIGroup
		if !r.call(stepGateway, func() (err error) {
			group, err = r.api.APIGroup(r.ctx, render.IstioGroup)
			return err
		}) {
			return
		}
		if group == nil {
			return
		}
		// The server has just said v1 is not served; that beats a
		// discovery cache that still lists it.
		s.IstioServed = []string{}
		for _, v := range group.Versions {
			if v.Version != v1 {
				s.IstioServed = append(s.IstioServed, v.Version)
			}
		}
		s.IstioVersion = kube.PreferredIstioVersion(s.IstioServed)
		if s.IstioVersion == "" {
			return // served, but only versions too old to read
		}
		gw = getInto[istiov1.Gateway](r, stepGateway, kube.IstioResource(s.IstioVersion, "gateways"), p.IstioNamespace, p.GatewayName)
	}
	s.Gateway = gw
	s.VirtualService = getInto[istiov1.VirtualService](r, stepVirtualService, kube.IstioResource(s.IstioVersion, "virtualservices"), p.AppNamespace, p.VirtualServiceName)
}

// usesPrivateCA says whether the client identity comes from the plugin's
// private CA, the only case where its secret matters to check.
func usesPrivateCA(client *corev1.Secret, p *chain.Params) bool {
	if client != nil {
		if mode, ok := client.Annotations[chain.AnnotationIdentity]; ok {
			return mode == string(chain.IdentityPrivateCA)
		}
	}
	return p.Identity == chain.IdentityPrivateCA
}

// ingressTLSSecretName is the secret the Ingress serves the host with: the
// spec.tls entry that lists the host, else the one without hosts (which
// covers every rule), else the ALB secret's name, which the plugin's copy has.
func ingressTLSSecretName(ing *networkingv1.Ingress, p *chain.Params) string {
	if ing != nil {
		for _, t := range ing.Spec.TLS {
			if t.SecretName != "" && hostListed(t.Hosts, p.Host) {
				return t.SecretName
			}
		}
		for _, t := range ing.Spec.TLS {
			if t.SecretName != "" && len(t.Hosts) == 0 {
				return t.SecretName
			}
		}
	}
	return p.ALBSecret
}

// reader performs the requests of one Read, at most cap(slots) at once,
// and keeps the error of the lowest step.
type reader struct {
	ctx context.Context
	api API
	// raw is api when it is a RawAPI, else nil.
	raw   RawAPI
	slots chan struct{}
	wg    sync.WaitGroup

	mu      sync.Mutex
	err     error
	errStep int

	// owned are the plugin's secrets in ownedNamespace (the Istio
	// namespace) by name, from one LIST; nil when that LIST was not
	// allowed. Written before the LIST's task is done, read only after.
	owned          map[string]*corev1.Secret
	ownedNamespace string
}

// async runs task in its own goroutine and returns a channel closed when it
// is done: tasks that need its result wait on that channel, which also
// orders their reads of what it wrote.
func (r *reader) async(task func()) <-chan struct{} {
	done := make(chan struct{})
	r.wg.Go(func() {
		defer close(done)
		task()
	})
	return done
}

// call performs one request of step in a free slot. It skips the request,
// and returns false, when a step before this one has failed: Read returns
// that error whatever this request would answer. A step waits only for
// steps before it, so a skipped step never hides the error a sequential
// read would have met first.
func (r *reader) call(step int, request func() error) bool {
	if r.failedBefore(step + 1) {
		return false
	}
	r.slots <- struct{}{}
	defer func() { <-r.slots }()
	// A slot may have taken a while; don't spend it on a lost cause.
	if r.failedBefore(step + 1) {
		return false
	}
	if err := request(); err != nil {
		r.fail(step, err)
		return false
	}
	return true
}

// fail records err as step's failure, keeping the lowest step's.
func (r *reader) fail(step int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil || step < r.errStep {
		r.err, r.errStep = err, step
	}
}

// failedBefore reports whether a step before step has failed.
func (r *reader) failedBefore(step int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err != nil && r.errStep < step
}

// readOwnedSecrets reads the secrets the plugin wrote in the Istio
// namespace (the client secret, -cacert, the CA and the ALB TLS copy) in one
// LIST selected by the plugin's managed-by label. The API server filters by
// label, so no other secret of that namespace (Istio's CA key, other hosts'
// credentials) is ever sent to the plugin. A Role that grants get only (say,
// with resourceNames) forbids the LIST; then each secret is read by name.
func (r *reader) readOwnedSecrets() {
	forbidden := false
	items, ok := listIntoOr[corev1.Secret](r, stepOwnedSecrets, kube.Secrets, r.ownedNamespace, chain.LabelManagedBy+"="+chain.FieldManager, func(err error) error {
		if kube.IsForbidden(err) {
			forbidden = true
			return nil
		}
		return err
	})
	if !ok || forbidden {
		return
	}
	owned := map[string]*corev1.Secret{}
	for i := range items {
		owned[items[i].Name] = &items[i]
	}
	r.owned = owned
}

func (r *reader) get(step int, gvr schema.GroupVersionResource, namespace, name string) *unstructured.Unstructured {
	if name == "" {
		return nil
	}
	var u *unstructured.Unstructured
	r.call(step, func() (err error) {
		u, err = r.api.Get(r.ctx, gvr, namespace, name)
		return err
	})
	return u
}

func (r *reader) list(step int, gvr schema.GroupVersionResource, namespace, selector string) []unstructured.Unstructured {
	var items []unstructured.Unstructured
	r.call(step, func() (err error) {
		items, err = r.api.List(r.ctx, gvr, namespace, selector)
		return err
	})
	return items
}

// secret reads a secret by name unless the LIST of the plugin's own
// secrets (owned, in the Istio namespace; wait for it) already brought it.
// A secret missing from that LIST may still exist without the plugin's
// label (say, made by the walkthrough's kubectl create), which the rules
// must see, so it is read by name. Secrets of other namespaces cannot be in
// the LIST and are read at once.
func (r *reader) secret(step int, owned <-chan struct{}, namespace, name string) *corev1.Secret {
	if namespace == r.ownedNamespace {
		<-owned
		if sec, ok := r.owned[name]; ok {
			return sec
		}
	}
	return getInto[corev1.Secret](r, step, kube.Secrets, namespace, name)
}

// getInto reads an object as T; absent objects are nil.
func getInto[T any](r *reader, step int, gvr schema.GroupVersionResource, namespace, name string) *T {
	if r.raw == nil || name == "" {
		return decode[T](r, step, r.get(step, gvr, namespace, name))
	}
	obj, _, _ := getServedInto[T](r, step, gvr, namespace, name)
	return obj
}

// getServedInto reads an object as T at a version the server may not
// serve, and says whether it does; ok is false when the read failed.
func getServedInto[T any](r *reader, step int, gvr schema.GroupVersionResource, namespace, name string) (obj *T, served, ok bool) {
	if r.raw != nil {
		var data []byte
		if !r.call(step, func() (err error) {
			data, served, err = r.raw.GetServedRaw(r.ctx, gvr, namespace, name)
			return err
		}) {
			return nil, false, false
		}
		return decodeRaw[T](r, step, data), served, true
	}
	var u *unstructured.Unstructured
	if !r.call(step, func() (err error) {
		u, served, err = r.api.GetServed(r.ctx, gvr, namespace, name)
		return err
	}) {
		return nil, false, false
	}
	return decode[T](r, step, u), served, true
}

// listInto lists objects as Ts; ok is false when the LIST failed or an
// item could not be read (the items before it are returned).
func listInto[T any](r *reader, step int, gvr schema.GroupVersionResource, namespace, selector string) ([]T, bool) {
	return listIntoOr[T](r, step, gvr, namespace, selector, func(err error) error { return err })
}

// listIntoOr is listInto whose LIST error passes through onErr first: nil
// from it ends the read of the list without failing the check.
func listIntoOr[T any](r *reader, step int, gvr schema.GroupVersionResource, namespace, selector string, onErr func(error) error) ([]T, bool) {
	if r.raw != nil {
		var data []byte
		if !r.call(step, func() (err error) {
			if data, err = r.raw.ListRaw(r.ctx, gvr, namespace, selector); err != nil {
				return onErr(err)
			}
			return nil
		}) {
			return nil, false
		}
		if data == nil {
			return nil, true
		}
		return decodeRawList[T](r, step, gvr, data)
	}
	var items []unstructured.Unstructured
	if !r.call(step, func() (err error) {
		if items, err = r.api.List(r.ctx, gvr, namespace, selector); err != nil {
			return onErr(err)
		}
		return nil
	}) {
		return nil, false
	}
	var out []T
	for i := range items {
		var obj T
		if !r.convert(step, &items[i], &obj) {
			return out, false
		}
		out = append(out, obj)
	}
	return out, true
}

// decodeRaw decodes an object as the server sent it (JSON, or protobuf for
// a built-in type) as T; nil stays nil.
func decodeRaw[T any](r *reader, step int, data []byte) *T {
	if data == nil {
		return nil
	}
	out := new(T)
	if err := unmarshalObject(data, false, out); err != nil {
		r.fail(step, malformed(data, "", err))
		return nil
	}
	return out
}

// decodeRawList decodes a list's items as Ts. The server sends the items
// without apiVersion and kind; like the dynamic client, they get the list's
// apiVersion and its kind without "List".
func decodeRawList[T any](r *reader, step int, gvr schema.GroupVersionResource, data []byte) ([]T, bool) {
	apiVersion, kind, items, bare, err := listItems(data)
	if err != nil {
		r.fail(step, fmt.Errorf("the API server's list of %s is malformed: %w", gvr.Resource, err))
		return nil, false
	}
	gvk := schema.FromAPIVersionAndKind(apiVersion, strings.TrimSuffix(kind, "List"))
	var out []T
	for _, item := range items {
		var obj T
		if err := unmarshalObject(item, bare, &obj); err != nil {
			r.fail(step, malformed(item, gvk.Kind, err))
			return out, false
		}
		if o, ok := any(&obj).(interface{ GetObjectKind() schema.ObjectKind }); ok && o.GetObjectKind().GroupVersionKind().Empty() {
			o.GetObjectKind().SetGroupVersionKind(gvk)
		}
		out = append(out, obj)
	}
	return out, true
}

// unmarshalObject decodes one object: JSON, or the API server's protobuf
// envelope, whose message only a built-in Go type (its generated
// Unmarshal) reads; bare is a protobuf list's item, the message alone.
func unmarshalObject(data []byte, bare bool, into any) error {
	if !bare && !bytes.HasPrefix(data, kube.ProtobufPrefix) {
		return json.Unmarshal(data, into)
	}
	m, ok := into.(interface{ Unmarshal([]byte) error })
	if !ok {
		return fmt.Errorf("the API server sent protobuf for %T, which has no protobuf form", into)
	}
	if bare {
		return m.Unmarshal(data)
	}
	var env runtime.Unknown
	if err := env.Unmarshal(data[len(kube.ProtobufPrefix):]); err != nil {
		return err
	}
	if err := m.Unmarshal(env.Raw); err != nil {
		return err
	}
	if o, ok := into.(interface{ GetObjectKind() schema.ObjectKind }); ok {
		o.GetObjectKind().SetGroupVersionKind(schema.FromAPIVersionAndKind(env.APIVersion, env.Kind))
	}
	return nil
}

// listItems splits a list as the server sent it into its apiVersion, kind
// and items, and says whether they are bare protobuf messages. Every
// Kubernetes list message has its ListMeta as field 1 and
// its items as field 2, which is what lets one loop read them whatever the
// type.
func listItems(data []byte) (apiVersion, kind string, items [][]byte, bare bool, err error) {
	if !bytes.HasPrefix(data, kube.ProtobufPrefix) {
		var list struct {
			APIVersion string            `json:"apiVersion"`
			Kind       string            `json:"kind"`
			Items      []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(data, &list); err != nil {
			return "", "", nil, false, err
		}
		for _, item := range list.Items {
			items = append(items, item)
		}
		return list.APIVersion, list.Kind, items, false, nil
	}
	var env runtime.Unknown
	if err := env.Unmarshal(data[len(kube.ProtobufPrefix):]); err != nil {
		return "", "", nil, false, err
	}
	b := env.Raw
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", "", nil, false, protowire.ParseError(n)
		}
		b = b[n:]
		if num == 2 && typ == protowire.BytesType {
			item, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return "", "", nil, false, protowire.ParseError(n)
			}
			items = append(items, item)
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return "", "", nil, false, protowire.ParseError(n)
		}
		b = b[n:]
	}
	return env.APIVersion, env.Kind, items, true, nil
}

// malformed is fromUnstructured's error for an object's JSON, naming the
// object by its kind (kind when it says none, as a list's items do) and
// name.
func malformed(data []byte, kind string, err error) error {
	var head struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
		} `json:"metadata"`
	}
	if bytes.HasPrefix(data, kube.ProtobufPrefix) {
		var env runtime.Unknown
		if env.Unmarshal(data[len(kube.ProtobufPrefix):]) == nil {
			head.Kind = env.Kind
		}
	} else {
		_ = json.Unmarshal(data, &head)
	}
	if head.Kind != "" {
		kind = head.Kind
	}
	return fmt.Errorf("%s %s is malformed: %w", kind, objectName(head.Metadata.Namespace, head.Metadata.Name), err)
}

// decode converts an object read to T; nil stays nil.
func decode[T any](r *reader, step int, u *unstructured.Unstructured) *T {
	if u == nil {
		return nil
	}
	out := new(T)
	if !r.convert(step, u, out) {
		return nil
	}
	return out
}

func (r *reader) convert(step int, u *unstructured.Unstructured, into any) bool {
	if err := fromUnstructured(u, into); err != nil {
		r.fail(step, err)
		return false
	}
	return true
}

func (r *reader) convertJSON(step int, v any, into any) bool {
	data, err := json.Marshal(v)
	if err == nil {
		err = json.Unmarshal(data, into)
	}
	if err != nil {
		r.fail(step, fmt.Errorf("cannot read the ServersTransport's spec: %w", err))
		return false
	}
	return true
}

// fromUnstructured converts through JSON: Istio's types are protobuf
// messages whose JSON decoding (oneofs, enums by name) only their own
// UnmarshalJSON knows.
func fromUnstructured(u *unstructured.Unstructured, into any) error {
	data, err := u.MarshalJSON()
	if err == nil {
		err = json.Unmarshal(data, into)
	}
	if err != nil {
		return fmt.Errorf("%s %s is malformed: %w", u.GetKind(), objectName(u.GetNamespace(), u.GetName()), err)
	}
	return nil
}

func objectName(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}
