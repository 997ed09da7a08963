package cmd

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// fakeAPI is a small API server over HTTPS for running the commands
// through their cobra command and kube.NewClients, as a user does, without
// a cluster: GET, LIST (label equality selectors), create, update,
// server-side apply (a deep merge of the applied fields, the applying field
// manager recorded), delete with preconditions, dry runs, and the
// discovery of API groups. It keeps every request, so a test can tell
// what was written. What it does not do (validation, defaulting, field
// ownership beyond recording managers) the end-to-end tests' real
// kube-apiserver does.
type fakeAPI struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	objs     map[string]map[string]any // by objectPath
	rv       int
	groups   map[string][]string // served API groups and their versions
	requests []string            // "VERB /path?query"
	// fail answers requests whose "VERB /path" has this prefix with 500.
	fail string
}

// newFakeAPI starts a fake API server serving Istio's networking group.
func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{t: t, objs: map[string]map[string]any{}, groups: map[string][]string{"networking.istio.io": {"v1", "v1beta1"}}}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	// Clients that go away mid-handshake at the end of a test are no news.
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

// kubeconfig writes a kubeconfig whose current context is the fake server
// with namespace ns, and points $KUBECONFIG and $HOME (kubectl's cache)
// into the test's directory.
func (f *fakeAPI) kubeconfig(ns string) string {
	f.t.Helper()
	dir := f.t.TempDir()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["fake"] = &clientcmdapi.Cluster{Server: f.srv.URL, CertificateAuthorityData: pemOf(f.srv.Certificate().Raw)}
	cfg.AuthInfos["fake"] = &clientcmdapi.AuthInfo{Token: "fake-token"}
	cfg.Contexts["fake"] = &clientcmdapi.Context{Cluster: "fake", AuthInfo: "fake", Namespace: ns}
	cfg.CurrentContext = "fake"
	path := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		f.t.Fatal(err)
	}
	f.t.Setenv("KUBECONFIG", path)
	f.t.Setenv("HOME", dir)
	return path
}

func pemOf(der []byte) []byte {
	return []byte("-----BEGIN CERTIFICATE-----\n" + wrap64(der) + "-----END CERTIFICATE-----\n")
}

func wrap64(der []byte) string {
	s := base64.StdEncoding.EncodeToString(der)
	var b strings.Builder
	for len(s) > 64 {
		b.WriteString(s[:64] + "\n")
		s = s[64:]
	}
	b.WriteString(s + "\n")
	return b.String()
}

// route is a request's resource and object.
type route struct {
	group, version, resource, namespace, name string
}

func (r route) gv() string {
	if r.group == "" {
		return r.version
	}
	return r.group + "/" + r.version
}

// objectPath keys an object: resource (with group), namespace, name.
func objectPath(group, resource, namespace, name string) string {
	return group + "|" + resource + "|" + namespace + "|" + name
}

// parseRoute reads /api/v1/... and /apis/<group>/<version>/...; ok false
// for a discovery path (/apis/<group>), which discovery reports in group.
func parseRoute(path string) (r route, group string, ok bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		r.version, parts = parts[1], parts[2:]
	case len(parts) == 2 && parts[0] == "apis":
		return r, parts[1], false
	case len(parts) >= 3 && parts[0] == "apis":
		r.group, r.version, parts = parts[1], parts[2], parts[3:]
	default:
		return r, "", false
	}
	if len(parts) >= 3 && parts[0] == "namespaces" {
		r.namespace, parts = parts[1], parts[2:]
	}
	if len(parts) == 0 {
		return r, "", false
	}
	r.resource = parts[0]
	if len(parts) > 1 {
		r.name = parts[1]
	}
	return r, "", true
}

// kinds names the kind of each resource the commands touch.
var kinds = map[string]string{
	"secrets": "Secret", "services": "Service", "pods": "Pod", "namespaces": "Namespace", "ingresses": "Ingress",
	"ingressclasses": "IngressClass", "gateways": "Gateway", "virtualservices": "VirtualService", "configmaps": "ConfigMap",
	"serverstransports": "ServersTransport", "issuers": "Issuer", "certificates": "Certificate", "deployments": "Deployment",
}

// add stores objects as if created by someone other than the plugin (no
// field manager unless the object names one).
func (f *fakeAPI) add(objs ...*unstructured.Unstructured) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range objs {
		group, version := splitAPIVersion(u.GetAPIVersion())
		_ = version
		res := resourceOfKind(u.GetKind())
		f.rv++
		o := u.DeepCopy()
		o.SetResourceVersion(strconv.Itoa(f.rv))
		if o.GetUID() == "" {
			o.SetUID(types.UID(fmt.Sprintf("uid-%d", f.rv)))
		}
		f.objs[objectPath(group, res, u.GetNamespace(), u.GetName())] = o.Object
	}
}

// get returns a stored object, or nil.
func (f *fakeAPI) get(group, resource, namespace, name string) *unstructured.Unstructured {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.objs[objectPath(group, resource, namespace, name)]
	if !ok {
		return nil
	}
	return (&unstructured.Unstructured{Object: o}).DeepCopy()
}

// names lists the stored objects of a resource as namespace/name.
func (f *fakeAPI) names(group, resource string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k := range f.objs {
		p := strings.Split(k, "|")
		if p[0] == group && p[1] == resource {
			out = append(out, strings.TrimPrefix(p[2]+"/"+p[3], "/"))
		}
	}
	sort.Strings(out)
	return out
}

// writes lists the requests that changed something (not dry runs).
func (f *fakeAPI) writes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.requests {
		if !strings.HasPrefix(r, "GET ") && !strings.Contains(r, "dryRun=") {
			out = append(out, r)
		}
	}
	return out
}

func (f *fakeAPI) resetRequests() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = nil
}

func resourceOfKind(kind string) string {
	for r, k := range kinds {
		if k == kind {
			return r
		}
	}
	panic("fakeAPI: unknown kind " + kind)
}

func splitAPIVersion(av string) (group, version string) {
	if g, v, ok := strings.Cut(av, "/"); ok {
		return g, v
	}
	return "", av
}

func (f *fakeAPI) serve(w http.ResponseWriter, req *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	line := req.Method + " " + req.URL.Path
	if req.URL.RawQuery != "" {
		line += "?" + req.URL.RawQuery
	}
	f.requests = append(f.requests, line)
	if f.fail != "" && strings.HasPrefix(line, f.fail) {
		writeStatus(w, http.StatusInternalServerError, "InternalError", "the fake API server was told to fail")
		return
	}
	r, group, ok := parseRoute(req.URL.Path)
	if !ok {
		versions, served := f.groups[group]
		if group == "" || !served {
			writeStatus(w, http.StatusNotFound, "NotFound", "the server could not find the requested resource")
			return
		}
		g := map[string]any{"kind": "APIGroup", "apiVersion": "v1", "name": group}
		var vs []any
		for _, v := range versions {
			vs = append(vs, map[string]any{"groupVersion": group + "/" + v, "version": v})
		}
		g["versions"] = vs
		g["preferredVersion"] = vs[0]
		writeJSON(w, http.StatusOK, g)
		return
	}
	if r.group != "" {
		if vs, served := f.groups[r.group]; !served || !fakeContains(vs, r.version) {
			// Built-in groups are always served.
			if builtIn := r.group == "networking.k8s.io" || r.group == "apps"; !builtIn {
				writeStatus(w, http.StatusNotFound, "NotFound", "the server could not find the requested resource")
				return
			}
		}
	}
	dryRun := req.URL.Query().Has("dryRun")
	key := objectPath(r.group, r.resource, r.namespace, r.name)
	switch req.Method {
	case http.MethodGet:
		if r.name != "" {
			o, ok := f.objs[key]
			if !ok {
				writeStatus(w, http.StatusNotFound, "NotFound", fmt.Sprintf("%s %q not found", r.resource, r.name))
				return
			}
			writeJSON(w, http.StatusOK, o)
			return
		}
		f.list(w, r, req.URL.Query().Get("labelSelector"))
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		body, _ := io.ReadAll(req.Body)
		obj := map[string]any{}
		if err := json.Unmarshal(body, &obj); err != nil {
			writeStatus(w, http.StatusBadRequest, "BadRequest", err.Error())
			return
		}
		u := &unstructured.Unstructured{Object: obj}
		if req.Method == http.MethodPost {
			r.name = u.GetName()
			key = objectPath(r.group, r.resource, r.namespace, r.name)
		}
		if r.namespace != "" {
			if _, ok := f.objs[objectPath("", "namespaces", "", r.namespace)]; !ok {
				writeStatus(w, http.StatusNotFound, "NotFound", fmt.Sprintf("namespaces %q not found", r.namespace))
				return
			}
		}
		existing, exists := f.objs[key]
		manager := req.URL.Query().Get("fieldManager")
		var stored *unstructured.Unstructured
		switch req.Method {
		case http.MethodPost:
			if exists {
				writeStatus(w, http.StatusConflict, "AlreadyExists", fmt.Sprintf("%s %q already exists", r.resource, r.name))
				return
			}
			stored = u.DeepCopy()
			stored.SetManagedFields(nil)
			setManager(stored, manager, "Update")
		case http.MethodPut:
			if !exists {
				writeStatus(w, http.StatusNotFound, "NotFound", fmt.Sprintf("%s %q not found", r.resource, r.name))
				return
			}
			old := &unstructured.Unstructured{Object: existing}
			if rv := u.GetResourceVersion(); rv != "" && rv != old.GetResourceVersion() {
				writeStatus(w, http.StatusConflict, "Conflict", "the object has been modified; please apply your changes to the latest version and try again")
				return
			}
			stored = u.DeepCopy()
			stored.SetManagedFields(old.GetManagedFields())
			setManager(stored, manager, "Update")
		default: // server-side apply
			if req.Header.Get("Content-Type") != "application/apply-patch+yaml" {
				writeStatus(w, http.StatusUnsupportedMediaType, "UnsupportedMediaType", "only server-side apply is served")
				return
			}
			stored = &unstructured.Unstructured{Object: map[string]any{}}
			if exists {
				old := &unstructured.Unstructured{Object: existing}
				if rv := u.GetResourceVersion(); rv != "" && rv != old.GetResourceVersion() {
					writeStatus(w, http.StatusConflict, "Conflict", "the object has been modified; please apply your changes to the latest version and try again")
					return
				}
				stored = old.DeepCopy()
			}
			patch := u.DeepCopy()
			unstructured.RemoveNestedField(patch.Object, "metadata", "resourceVersion")
			unstructured.RemoveNestedField(patch.Object, "metadata", "managedFields")
			fakeMerge(stored.Object, patch.Object)
			setManager(stored, manager, "Apply")
		}
		stored.SetNamespace(r.namespace)
		before := ""
		if exists {
			old := &unstructured.Unstructured{Object: existing}
			stored.SetUID(old.GetUID())
			stored.SetCreationTimestamp(old.GetCreationTimestamp())
			before = old.GetResourceVersion()
			stored.SetResourceVersion(before)
		}
		changed := !exists || !reflect.DeepEqual(withoutMeta(existing), withoutMeta(stored.Object))
		if changed {
			rv := f.rv + 1
			if !dryRun {
				f.rv = rv
			}
			stored.SetResourceVersion(strconv.Itoa(rv))
			if !exists {
				stored.SetUID(types.UID(fmt.Sprintf("uid-%d", rv)))
			}
		}
		if !dryRun {
			f.objs[key] = stored.Object
		}
		code := http.StatusOK
		if !exists {
			code = http.StatusCreated
		}
		writeJSON(w, code, stored.Object)
	case http.MethodDelete:
		o, ok := f.objs[key]
		if !ok {
			writeStatus(w, http.StatusNotFound, "NotFound", fmt.Sprintf("%s %q not found", r.resource, r.name))
			return
		}
		var opts struct {
			DryRun        []string `json:"dryRun"`
			Preconditions *struct {
				UID             *string `json:"uid"`
				ResourceVersion *string `json:"resourceVersion"`
			} `json:"preconditions"`
		}
		body, _ := io.ReadAll(req.Body)
		_ = json.Unmarshal(body, &opts)
		if len(opts.DryRun) > 0 {
			// DeleteOptions come in the body: mark the request as a dry run.
			dryRun = true
			f.requests[len(f.requests)-1] += " (dryRun=All)"
		}
		cur := &unstructured.Unstructured{Object: o}
		if p := opts.Preconditions; p != nil {
			if p.UID != nil && *p.UID != string(cur.GetUID()) || p.ResourceVersion != nil && *p.ResourceVersion != cur.GetResourceVersion() {
				writeStatus(w, http.StatusConflict, "Conflict", "Precondition failed")
				return
			}
		}
		if !dryRun {
			delete(f.objs, key)
		}
		writeJSON(w, http.StatusOK, map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Success"})
	default:
		writeStatus(w, http.StatusMethodNotAllowed, "MethodNotAllowed", req.Method)
	}
}

func (f *fakeAPI) list(w http.ResponseWriter, r route, selector string) {
	want := map[string]string{}
	for _, term := range strings.Split(selector, ",") {
		if term == "" {
			continue
		}
		k, v, _ := strings.Cut(term, "=")
		want[k] = v
	}
	var items []any
	var keys []string
	for k := range f.objs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := strings.Split(k, "|")
		if p[0] != r.group || p[1] != r.resource || (r.namespace != "" && p[2] != r.namespace) {
			continue
		}
		u := &unstructured.Unstructured{Object: f.objs[k]}
		labels := u.GetLabels()
		match := true
		for lk, lv := range want {
			if got, ok := labels[lk]; !ok || got != lv {
				match = false
			}
		}
		if match {
			items = append(items, f.objs[k])
		}
	}
	if items == nil {
		items = []any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"kind": kinds[r.resource] + "List", "apiVersion": r.gv(),
		"metadata": map[string]any{"resourceVersion": strconv.Itoa(f.rv)}, "items": items,
	})
}

// setManager records manager as managing the object (once).
func setManager(u *unstructured.Unstructured, manager, operation string) {
	if manager == "" {
		return
	}
	mfs := u.GetManagedFields()
	for _, m := range mfs {
		if m.Manager == manager {
			return
		}
	}
	mf := map[string]any{"manager": manager, "operation": operation, "apiVersion": u.GetAPIVersion(), "fieldsType": "FieldsV1", "fieldsV1": map[string]any{}}
	list, _, _ := unstructured.NestedSlice(u.Object, "metadata", "managedFields")
	_ = unstructured.SetNestedSlice(u.Object, append(list, mf), "metadata", "managedFields")
}

// merge writes src's fields over dst's, maps merged key by key.
func fakeMerge(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				fakeMerge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

// withoutMeta is an object without what the server maintains.
func withoutMeta(o map[string]any) map[string]any {
	c := (&unstructured.Unstructured{Object: o}).DeepCopy().Object
	for _, k := range []string{"resourceVersion", "managedFields", "uid", "creationTimestamp"} {
		unstructured.RemoveNestedField(c, "metadata", k)
	}
	return c
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeStatus(w http.ResponseWriter, code int, reason, message string) {
	writeJSON(w, code, map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "message": message, "code": code})
}

func fakeContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// fakeAPIRequests is a debugging aid: the requests so far, one a line.
func (f *fakeAPI) fakeAPIRequests() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.requests, "\n")
}

// remove deletes a stored object, as someone else would.
func (f *fakeAPI) remove(group, resource, namespace, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.objs, objectPath(group, resource, namespace, name))
}
