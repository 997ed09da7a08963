package check

import (
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albistio/kubectl-albistio/pkg/apply"
	"github.com/albistio/kubectl-albistio/pkg/identity"
)

// rerunPlugin finds, in a fix line, a command of the plugin that writes
// objects (and so may meet another field manager's fields).
var rerunPlugin = regexp.MustCompile(`kubectl albistio (?:setup|secrets|gateway|ingress)\b`)

// conflictFixes makes the fix lines that say to (re-)run the plugin say
// what will work when someone else owns what the run would write. The
// plugin writes with server-side apply and refuses, without
// --force-conflicts, an object it did not make (exit 4) and a field another
// field manager owns: after kubectl annotate, edit or patch changed a value
// the plugin had set, that manager owns the field, and re-running the
// plugin as the fix said stops at the conflict. Such a fix gets
// --force-conflicts, and says whose field or object it takes over. Only
// objects the plugin writes (chain.Params.Manifest) and whose managers are
// known (managedFields) are considered.
func conflictFixes(in *Input, fs []Finding) []Finding {
	owned := writtenObjects(in)
	for i, f := range fs {
		entries, ok := owned[f.Object]
		if !ok || len(entries) == 0 || !rerunPlugin.MatchString(f.Fix) || strings.Contains(f.Fix, "--force-conflicts") {
			continue
		}
		kind, _, _ := strings.Cut(f.Object, " ")
		var why string
		if !apply.ManagedByPlugin(entries) {
			why = fmt.Sprintf("the %s is not the plugin's (field manager %s made it), and the plugin writes over it only with --force-conflicts, which takes it over (cleanup then leaves it)",
				kind, joinQuoted(apply.ManagerNames(entries)))
		} else if others := apply.FieldOwners(entries, f.Field); len(others) > 0 {
			why = fmt.Sprintf("field manager %s owns %s now (a kubectl annotate, edit or patch), and without --force-conflicts the plugin's apply stops at a conflict with it",
				joinQuoted(others), f.Field)
		} else {
			continue
		}
		fs[i].Fix = rerunPlugin.ReplaceAllString(f.Fix, "$0 --force-conflicts") + "; " + why
	}
	return fs
}

// writtenObjects are the managedFields of the objects the plugin writes
// for the chain, by the name findings give them.
func writtenObjects(in *Input) map[string][]metav1.ManagedFieldsEntry {
	s := in.Snapshot
	read := map[string][]metav1.ManagedFieldsEntry{}
	put := func(kind string, m metav1.ObjectMeta) { read[ObjectRef(kind, m.Namespace, m.Name)] = m.ManagedFields }
	if s.Ingress != nil {
		put("Ingress", s.Ingress.ObjectMeta)
	}
	if s.Gateway != nil {
		put("Gateway", s.Gateway.ObjectMeta)
	}
	if s.VirtualService != nil {
		put("VirtualService", s.VirtualService.ObjectMeta)
	}
	if s.BackendService != nil {
		put("Service", s.BackendService.ObjectMeta)
	}
	for _, sec := range []*corev1.Secret{s.ClientSecret, s.CACert, s.CASecret, s.IngressTLSSecret} {
		// A copy IKS keeps is IKS's: setup uses it and writes none.
		if sec != nil && !identity.IKSManaged(sec) {
			put("Secret", sec.ObjectMeta)
		}
	}
	if st := s.ServersTransport; st != nil {
		read[ObjectRef("ServersTransport", st.Namespace, st.Name)] = st.ManagedFields
	}
	for _, o := range []*CertManagerObject{s.SelfSignedIssuer, s.CAIssuer, s.CACertificate, s.ClientCertificate, s.ServerCertificate} {
		if o != nil {
			read[o.ref()] = o.ManagedFields
		}
	}
	out := map[string][]metav1.ManagedFieldsEntry{}
	for _, e := range in.Params.Manifest() {
		if ref := ObjectRef(e.Kind, e.Namespace, e.Name); e.IssuedBy == "" && read[ref] != nil {
			out[ref] = read[ref]
		}
	}
	return out
}
