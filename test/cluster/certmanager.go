package cluster

// cert-manager's real controllers against the test API server: its CRDs from
// the module cache (never copied into the repository) and the binary
// test/certmanager/build.sh builds (our own main around cert-manager's
// controller package). No webhook runs, so nothing validates or defaults
// cert-manager objects beyond the CRDs' schemas (renewBefore may be seconds
// short of duration, which the webhook would refuse: a fast renewal loop).

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

const (
	// CertManagerModule is the module test/certmanager builds and whose
	// deploy/crds the cluster installs.
	CertManagerModule = "github.com/cert-manager/cert-manager"
	// CertManagerBinary is the controller binary's name in the bin directory.
	CertManagerBinary = "cert-manager-controller"
	// CertManagerGroupVersion is the API StartCertManager waits for.
	CertManagerGroupVersion = "cert-manager.io/v1"
	// CertManagerClusterResourceNamespace holds ClusterIssuers' secrets.
	CertManagerClusterResourceNamespace = "kube-system"
)

// cert-manager's resources, for dynamic clients (the test module does not
// import cert-manager: its Kubernetes libraries are a release behind).
var (
	CertificateGVR        = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificates"}
	CertificateRequestGVR = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificaterequests"}
	IssuerGVR             = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "issuers"}
	ClusterIssuerGVR      = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "clusterissuers"}
)

// ErrCertManagerNotBuilt is returned (wrapped) by StartCertManager when the
// bin directory holds no cert-manager-controller; tests skip on it.
var ErrCertManagerNotBuilt = errors.New("cert-manager-controller is not built (run test/certmanager/build.sh or `make certmanager-bin`: 3-10 min cold, ~1.1 GB RAM)")

// certManagerStart serialises StartCertManager calls: installing the CRDs and
// starting the controller take seconds, longer than c.mu should be held.
var certManagerStart sync.Mutex

// CertManagerModuleDir is the wrapper module test/certmanager.
func CertManagerModuleDir() string { return filepath.Join(ModuleDir(), "certmanager") }

// CertManagerCRDFiles lists deploy/crds/*.yaml of the cert-manager module the
// wrapper module requires, downloading the module if the cache lacks it.
func CertManagerCRDFiles() ([]string, error) {
	dir, err := goModDirIn(CertManagerModuleDir(), CertManagerModule)
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(dir, "deploy", "crds", "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no CRD files in %s", filepath.Join(dir, "deploy", "crds"))
	}
	return files, nil
}

// goModDirIn is goModDir for a module required by another module than this one.
func goModDirIn(modDir, module string) (string, error) {
	list := func() (string, error) {
		cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module)
		cmd.Dir = modDir
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("go list -m %s in %s: %w", module, modDir, withStderr(err))
		}
		return strings.TrimSpace(string(out)), nil
	}
	dir, err := list()
	if err == nil && dir == "" {
		dl := exec.Command("go", "mod", "download", module)
		dl.Dir = modDir
		if err := dl.Run(); err != nil {
			return "", fmt.Errorf("go mod download %s in %s: %w", module, modDir, withStderr(err))
		}
		dir, err = list()
	}
	if err == nil && dir == "" {
		err = fmt.Errorf("module %s is not in the module cache", module)
	}
	return dir, err
}

// StartCertManager installs cert-manager's CRDs, waits until they are
// Established and discovery serves cert-manager.io/v1, then starts
// cert-manager-controller with the admin kubeconfig and waits until its
// informer caches have synced. It runs until StopCertManager or Stop; its log
// is <Dir>/cert-manager-controller.log. Calling it again while the controller
// runs does nothing. When the binary is missing the error wraps
// ErrCertManagerNotBuilt.
func (c *Cluster) StartCertManager(ctx context.Context) error {
	certManagerStart.Lock()
	defer certManagerStart.Unlock()
	c.mu.Lock()
	running := c.certManager != nil
	c.mu.Unlock()
	if running {
		return nil
	}
	bin := filepath.Join(c.binDir, CertManagerBinary)
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrCertManagerNotBuilt, bin, err)
	}
	if err := c.InstallCertManagerCRDs(ctx); err != nil {
		return err
	}
	ready := filepath.Join(c.Dir, CertManagerBinary+".ready")
	_ = os.Remove(ready)
	p, err := c.spawn(CertManagerBinary, []string{
		"--kubeconfig=" + c.Kubeconfig,
		"--cluster-resource-namespace=" + CertManagerClusterResourceNamespace,
		"--ready-file=" + ready,
	})
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.certManager = p
	c.mu.Unlock()
	err = waitFor(ctx, p, "cert-manager's informer caches", func() (bool, error) {
		_, err := os.Stat(ready)
		return err == nil, nil
	})
	if err != nil {
		_ = c.StopCertManager()
		return err
	}
	return nil
}

// StopCertManager stops the controller StartCertManager started (Stop does too).
func (c *Cluster) StopCertManager() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopCertManagerLocked()
}

func (c *Cluster) stopCertManagerLocked() error {
	if c.certManager == nil {
		return nil
	}
	err := c.certManager.stop(15 * time.Second)
	c.certManager = nil
	_ = os.Remove(filepath.Join(c.Dir, CertManagerBinary+".pid"))
	return err
}

// CertManagerLog is the path of the controller's log.
func (c *Cluster) CertManagerLog() string { return filepath.Join(c.Dir, CertManagerBinary+".log") }

// InstallCertManagerCRDs creates cert-manager's CRDs (keeping ones that
// exist) and waits until all are Established and discovery serves
// cert-manager.io/v1 certificates and issuers. StartCertManager calls it; a
// test needing only the API (no controller) may call it alone.
func (c *Cluster) InstallCertManagerCRDs(ctx context.Context) error {
	files, err := CertManagerCRDFiles()
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(c.RESTConfig())
	if err != nil {
		return err
	}
	crds := dyn.Resource(crdGVR)
	var installed []*unstructured.Unstructured
	for _, file := range files {
		objs, err := readCRDs(file)
		if err != nil {
			return err
		}
		for _, obj := range objs {
			if err := createCRD(ctx, crds, obj); err != nil {
				return err
			}
			installed = append(installed, obj)
		}
	}
	return c.waitCRDsReady(ctx, "cert-manager", installed, CertManagerGroupVersion, CertificateGVR.Resource, IssuerGVR.Resource, CertificateRequestGVR.Resource)
}

// createCRD creates a CRD unless it exists. One still being deleted (an
// UninstallCertManager just before) is waited for and created anew, else it
// would vanish under the controller.
func createCRD(ctx context.Context, crds dynamic.ResourceInterface, obj *unstructured.Unstructured) error {
	for {
		_, err := crds.Create(ctx, obj, metav1.CreateOptions{})
		if err == nil {
			return nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating CRD %s: %w", obj.GetName(), err)
		}
		old, err := crds.Get(ctx, obj.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if old.GetDeletionTimestamp() == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("CRD %s is still being deleted: %w", obj.GetName(), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// UninstallCertManager stops the controller and deletes cert-manager's CRDs,
// then waits until they are gone and discovery no longer serves
// cert-manager.io/v1: the plugin chooses cert-manager where that API is
// served, so tests after a cert-manager test must not see it.
// StartCertManager works again afterwards.
//
// The instances are deleted first, through the API, and waited for: the API
// server's CRD finalizer would delete them too, but it re-lists them only
// every 5 s for a minute per pass, from a watch cache that lags on a loaded
// 2-core machine, and a pass that sees a stale instance costs another
// minute. When the wait still times out the error says which CRDs remain
// (with their Terminating condition) and whether discovery still serves the
// group, rather than only "context deadline exceeded".
func (c *Cluster) UninstallCertManager(ctx context.Context) error {
	errs := []error{c.StopCertManager()}
	dyn, err := dynamic.NewForConfig(c.RESTConfig())
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	crds := dyn.Resource(crdGVR)
	list, err := crds.List(ctx, metav1.ListOptions{})
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	var mine []unstructured.Unstructured
	for _, crd := range list.Items {
		if g, _, _ := unstructured.NestedString(crd.Object, "spec", "group"); g == "cert-manager.io" || g == "acme.cert-manager.io" {
			mine = append(mine, crd)
		}
	}
	errs = append(errs, deleteInstances(ctx, dyn, mine))
	var names []string
	for _, crd := range mine {
		names = append(names, crd.GetName())
		if err := crds.Delete(ctx, crd.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting CRD %s: %w", crd.GetName(), err))
		}
	}
	disc, err := discovery.NewDiscoveryClientForConfig(c.RESTConfig())
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	var left []string
	served := false
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 100*time.Second, true, func(ctx context.Context) (bool, error) {
		left = left[:0]
		for _, n := range names {
			crd, err := crds.Get(ctx, n, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				continue
			}
			left = append(left, n+" ("+terminating(crd)+")")
		}
		_, err := disc.ServerResourcesForGroupVersion(CertManagerGroupVersion)
		served = !apierrors.IsNotFound(err)
		return len(left) == 0 && !served, nil
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("waiting for cert-manager's %d CRDs to be gone and %s no longer served: %w; CRDs left: %v; discovery still serves %s: %v",
			len(names), CertManagerGroupVersion, err, left, CertManagerGroupVersion, served))
	}
	return errors.Join(errs...)
}

// deleteInstances deletes every object of the given CRDs in every namespace
// and waits until none is listed.
func deleteInstances(ctx context.Context, dyn dynamic.Interface, crds []unstructured.Unstructured) error {
	var gvrs []schema.GroupVersionResource
	for _, crd := range crds {
		group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
		plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
		versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
		for _, v := range versions {
			m, _ := v.(map[string]any)
			if storage, _ := m["storage"].(bool); storage {
				name, _ := m["name"].(string)
				gvrs = append(gvrs, schema.GroupVersionResource{Group: group, Version: name, Resource: plural})
			}
		}
	}
	var errs []error
	for _, gvr := range gvrs {
		list, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			errs = append(errs, fmt.Errorf("listing %s: %w", gvr.Resource, err))
			continue
		}
		done := map[string]bool{}
		for _, item := range list.Items {
			ns := item.GetNamespace()
			if done[ns] {
				continue
			}
			done[ns] = true
			var err error
			if ns == "" {
				err = dyn.Resource(gvr).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
			} else {
				err = dyn.Resource(gvr).Namespace(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
			}
			if err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("deleting %s in %q: %w", gvr.Resource, ns, err))
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	var left []string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		left = left[:0]
		for _, gvr := range gvrs {
			list, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, nil
			}
			for _, item := range list.Items {
				left = append(left, fmt.Sprintf("%s %s/%s (finalizers %v)", gvr.Resource, item.GetNamespace(), item.GetName(), item.GetFinalizers()))
			}
		}
		return len(left) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for cert-manager's objects to be deleted: %w; left: %v", err, left)
	}
	return nil
}

// terminating is a CRD's Terminating condition as "reason: message", which
// says what the API server's CRD finalizer is waiting for.
func terminating(crd *unstructured.Unstructured) string {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Terminating" {
			return fmt.Sprintf("%v: %v", m["reason"], m["message"])
		}
	}
	return "no Terminating condition"
}

// readCRDs decodes the CustomResourceDefinitions of a manifest. cert-manager's
// deploy/crds files are plain YAML today; should a release ship them
// Helm-templated, whole-line template actions ({{- if … }}, {{- end }}) are
// dropped and any other template text is an error rather than a guess.
func readCRDs(file string) ([]*unstructured.Unstructured, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading cert-manager CRDs: %w", err)
	}
	var kept []string
	for i, line := range strings.Split(string(raw), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "{{") && strings.HasSuffix(t, "}}") && strings.Count(t, "{{") == 1 {
			continue
		}
		if strings.Contains(t, "{{") {
			return nil, fmt.Errorf("%s:%d: Helm template text the test cannot render: %s", file, i+1, t)
		}
		kept = append(kept, line)
	}
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(strings.Join(kept, "\n"))), 64*1024)
	var out []*unstructured.Unstructured
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("decoding %s: %w", file, err)
		}
		if len(obj.Object) == 0 || obj.GetKind() != "CustomResourceDefinition" {
			continue
		}
		out = append(out, obj)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no CustomResourceDefinition in %s", file)
	}
	return out, nil
}

// --- Helpers for tests that use cert-manager (dynamic client, no cert-manager types).

// SelfSignedIssuer is a namespaced selfSigned Issuer.
func SelfSignedIssuer(ns, name string) *unstructured.Unstructured {
	return cmObject("Issuer", ns, name, map[string]any{"selfSigned": map[string]any{}})
}

// CAIssuer is a namespaced CA Issuer signing with the tls.crt/tls.key of secret.
func CAIssuer(ns, name, secret string) *unstructured.Unstructured {
	return cmObject("Issuer", ns, name, map[string]any{"ca": map[string]any{"secretName": secret}})
}

// CertificateSpec is the part of a Certificate's spec the tests vary.
type CertificateSpec struct {
	// Issuer is the name of a namespaced Issuer.
	Issuer     string
	SecretName string
	CommonName string
	DNSNames   []string
	// Usages are cert-manager's names, e.g. "client auth", "digital signature".
	Usages []string
	IsCA   bool
	// Duration and RenewBefore are left to cert-manager's defaults when zero.
	Duration    time.Duration
	RenewBefore time.Duration
}

// Certificate is a cert-manager Certificate with an ECDSA P-256 key,
// rotated on every issuance.
func Certificate(ns, name string, s CertificateSpec) *unstructured.Unstructured {
	spec := map[string]any{
		"secretName": s.SecretName,
		"issuerRef":  map[string]any{"name": s.Issuer, "kind": "Issuer", "group": "cert-manager.io"},
		"privateKey": map[string]any{"algorithm": "ECDSA", "size": int64(256), "rotationPolicy": "Always"},
	}
	if s.CommonName != "" {
		spec["commonName"] = s.CommonName
	}
	if len(s.DNSNames) > 0 {
		spec["dnsNames"] = toAny(s.DNSNames)
	}
	if len(s.Usages) > 0 {
		spec["usages"] = toAny(s.Usages)
	}
	if s.IsCA {
		spec["isCA"] = true
	}
	if s.Duration > 0 {
		spec["duration"] = s.Duration.String()
	}
	if s.RenewBefore > 0 {
		spec["renewBefore"] = s.RenewBefore.String()
	}
	return cmObject("Certificate", ns, name, spec)
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func cmObject(kind, ns, name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetAPIVersion(CertManagerGroupVersion)
	u.SetKind(kind)
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

func gvrOfKind(kind string) (schema.GroupVersionResource, error) {
	switch kind {
	case "Certificate":
		return CertificateGVR, nil
	case "Issuer":
		return IssuerGVR, nil
	case "ClusterIssuer":
		return ClusterIssuerGVR, nil
	case "CertificateRequest":
		return CertificateRequestGVR, nil
	}
	return schema.GroupVersionResource{}, fmt.Errorf("not a cert-manager kind: %q", kind)
}

// CreateCertManagerObjects creates cert-manager objects (from the
// constructors above) in order.
func CreateCertManagerObjects(ctx context.Context, dyn dynamic.Interface, objs ...*unstructured.Unstructured) error {
	for _, o := range objs {
		gvr, err := gvrOfKind(o.GetKind())
		if err != nil {
			return err
		}
		var ri dynamic.ResourceInterface = dyn.Resource(gvr)
		if o.GetNamespace() != "" {
			ri = dyn.Resource(gvr).Namespace(o.GetNamespace())
		}
		if _, err := ri.Create(ctx, o, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating %s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
	return nil
}

// CreateCertManagerCA makes name a CA Issuer in ns: a selfSigned Issuer
// <name>-selfsigned issues the CA Certificate <name> (isCA, Secret <name>),
// and the CA Issuer <name> signs with that Secret. It waits until the CA
// Issuer is Ready.
func CreateCertManagerCA(ctx context.Context, dyn dynamic.Interface, ns, name string) error {
	err := CreateCertManagerObjects(ctx, dyn,
		SelfSignedIssuer(ns, name+"-selfsigned"),
		Certificate(ns, name, CertificateSpec{
			Issuer: name + "-selfsigned", SecretName: name, CommonName: name, IsCA: true,
			Usages: []string{"cert sign", "crl sign", "digital signature"},
		}),
		CAIssuer(ns, name, name),
	)
	if err != nil {
		return err
	}
	if _, err := WaitCertManagerReady(ctx, dyn, CertificateGVR, ns, name); err != nil {
		return err
	}
	_, err = WaitCertManagerReady(ctx, dyn, IssuerGVR, ns, name)
	return err
}

// WaitCertManagerReady waits until a cert-manager object (Certificate,
// Issuer, …) has Ready=True for its current generation and returns it. On
// timeout (ctx) the error carries the Ready condition's last reason and message.
func WaitCertManagerReady(ctx context.Context, dyn dynamic.Interface, gvr schema.GroupVersionResource, ns, name string) (*unstructured.Unstructured, error) {
	var last *unstructured.Unstructured
	var lastErr error
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		u, err := dyn.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			lastErr = err
			return false, nil
		}
		last = u
		cond := Condition(u, "Ready")
		if cond == nil || cond["status"] != "True" {
			return false, nil
		}
		if g, ok := cond["observedGeneration"].(int64); ok && g < u.GetGeneration() {
			return false, nil
		}
		return true, nil
	})
	if err == nil {
		return last, nil
	}
	why := "not found"
	if last != nil {
		if cond := Condition(last, "Ready"); cond != nil {
			why = fmt.Sprintf("Ready=%v %v: %v", cond["status"], cond["reason"], cond["message"])
		} else {
			why = "no Ready condition"
		}
	} else if lastErr != nil {
		why = lastErr.Error()
	}
	return nil, fmt.Errorf("%s %s/%s is not Ready (%s): %w", gvr.Resource, ns, name, why, err)
}

// Condition returns the status condition of that type, or nil.
func Condition(u *unstructured.Unstructured, typ string) map[string]any {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == typ {
			return m
		}
	}
	return nil
}

// RenewCertificate asks cert-manager to issue a Certificate again now, as
// `cmctl renew` does: it sets the Issuing condition to True on the status.
// It first waits until no issuance is under way (Issuing is not True): an
// Issuing condition set while cert-manager is still finishing the previous
// issuance (Ready can be True already) is absorbed by it and renews nothing.
func RenewCertificate(ctx context.Context, dyn dynamic.Interface, ns, name string) error {
	ri := dyn.Resource(CertificateGVR).Namespace(ns)
	for attempt := 0; ; attempt++ {
		u, err := ri.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if c := Condition(u, "Issuing"); c != nil && c["status"] == "True" {
			select {
			case <-ctx.Done():
				return fmt.Errorf("renewing certificate %s/%s: an issuance is still under way: %w", ns, name, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
			attempt--
			continue
		}
		issuing := map[string]any{
			"type": "Issuing", "status": "True", "reason": "ManuallyTriggered",
			"message":            "renewal triggered by an end-to-end test",
			"lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
			"observedGeneration": u.GetGeneration(),
		}
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		conds = slices.DeleteFunc(conds, func(c any) bool {
			m, ok := c.(map[string]any)
			return ok && m["type"] == "Issuing"
		})
		if err := unstructured.SetNestedSlice(u.Object, append(conds, issuing), "status", "conditions"); err != nil {
			return err
		}
		_, err = ri.UpdateStatus(ctx, u, metav1.UpdateOptions{})
		if err == nil || !apierrors.IsConflict(err) || attempt >= 10 {
			if err != nil {
				return fmt.Errorf("renewing certificate %s/%s: %w", ns, name, err)
			}
			return nil
		}
	}
}

// SecretLeaf parses the first certificate of a Secret's tls.crt.
func SecretLeaf(s *corev1.Secret) (*x509.Certificate, error) {
	block, _ := pem.Decode(s.Data[corev1.TLSCertKey])
	if block == nil {
		return nil, fmt.Errorf("secret %s/%s: no PEM certificate in %s", s.Namespace, s.Name, corev1.TLSCertKey)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	return c, nil
}

// WaitSecretLeaf waits until a Secret holds a certificate whose serial is not
// old (nil: any certificate) and returns it: an issuance, or a renewal.
func WaitSecretLeaf(ctx context.Context, kube kubernetes.Interface, ns, name string, old *big.Int) (*x509.Certificate, error) {
	var leaf *x509.Certificate
	var lastErr error
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		s, err := kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			lastErr = err
			return false, nil
		}
		c, err := SecretLeaf(s)
		if err != nil {
			lastErr = err
			return false, nil
		}
		if old != nil && c.SerialNumber.Cmp(old) == 0 {
			lastErr = fmt.Errorf("serial still %s", old)
			return false, nil
		}
		leaf = c
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("waiting for a new certificate in secret %s/%s (%v): %w", ns, name, lastErr, err)
	}
	return leaf, nil
}

// CertManagerLogTail is the last lines of the controller's log, for failure messages.
func (c *Cluster) CertManagerLogTail(lines int) string { return tail(c.CertManagerLog(), lines) }
