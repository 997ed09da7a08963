package cmd

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/albistio/kubectl-albistio/pkg/apply"
)

// Stand-ins for PEM blocks: redaction goes by the PEM labels, never parses.
const (
	testCert  = "-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n"
	testKey   = "-----BEGIN PRIVATE KEY-----\nMIGHkey\n-----END PRIVATE KEY-----\n"
	testECKey = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEec\n-----END EC PRIVATE KEY-----\n"
)

func secretObject(t *testing.T, obj runtime.Object) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

// keyedSecret holds every way a key can sit in a Secret next to the
// certificates that must stay.
func keyedSecret(t *testing.T) *unstructured.Unstructured {
	s := &corev1.Secret{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{
		"tls.crt":    []byte(testCert),
		"ca.crt":     []byte(testCert),
		"tls.key":    []byte(testKey),
		"client.key": []byte("not even PEM: dropped by its name"),
		"other.pem":  []byte(testECKey),
		"bundle.pem": []byte(testCert + testKey),
	}}
	s.APIVersion, s.Kind = "v1", "Secret"
	s.Name, s.Namespace = "alb-certs", "istio-system"
	s.Annotations = map[string]string{
		"albistio.io/source":                 "istio-system/albistio-client-ca",
		corev1.LastAppliedConfigAnnotation:   `{"data":{"tls.key":"` + base64.StdEncoding.EncodeToString([]byte(testKey)) + `"}}`,
		"example.com/pasted-key-by-accident": testKey,
	}
	return secretObject(t, s)
}

func configMapWithKey(t *testing.T) *unstructured.Unstructured {
	cm := &corev1.ConfigMap{Data: map[string]string{"tls.key": testKey}}
	cm.APIVersion, cm.Kind = "v1", "ConfigMap"
	cm.Name, cm.Namespace = "not-a-secret", "istio-system"
	return secretObject(t, cm)
}

// printed runs the write commands' print path with -o format.
func printed(t *testing.T, format string, show bool, objs ...*unstructured.Unstructured) string {
	t.Helper()
	w := newWriteOptions()
	*w.PrintFlags.OutputFormat = format
	w.ShowPrivateKeys = show
	if err := w.complete(); err != nil {
		t.Fatal(err)
	}
	var results []apply.Result
	for _, o := range objs {
		results = append(results, apply.Result{Object: o, Op: apply.Created})
	}
	var out bytes.Buffer
	if err := w.print(&out, results); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// hasKey says whether s shows key material: PEM text, or any base64 run
// that decodes to a PEM key or to the non-PEM client.key of keyedSecret.
func hasKey(s string) bool {
	if strings.Contains(s, "PRIVATE KEY") {
		return true
	}
	for _, tok := range regexp.MustCompile(`[A-Za-z0-9+/]{8,}={0,2}`).FindAllString(s, -1) {
		if b, err := base64.StdEncoding.DecodeString(tok); err == nil && (strings.Contains(string(b), "PRIVATE KEY") || strings.Contains(string(b), "not even PEM")) {
			return true
		}
	}
	return false
}

func TestPrintedSecretsCarryNoPrivateKeys(t *testing.T) {
	for _, format := range []string{"yaml", "json", "jsonpath={.data}", "jsonpath={.metadata.annotations}"} {
		secret := keyedSecret(t)
		before := secret.DeepCopy()
		out := printed(t, format, false, secret)
		if hasKey(out) {
			t.Errorf("-o %s printed a private key:\n%s", format, out)
		}
		if !reflect.DeepEqual(secret, before) {
			t.Errorf("-o %s changed the object it printed: the applied object must keep its keys", format)
		}
	}

	var got corev1.Secret
	if err := json.Unmarshal([]byte(printed(t, "json", false, keyedSecret(t))), &got); err != nil {
		t.Fatal(err)
	}
	var kept []string
	for k := range got.Data {
		kept = append(kept, k)
	}
	if len(got.Data) != 2 || string(got.Data["tls.crt"]) != testCert || string(got.Data["ca.crt"]) != testCert {
		t.Errorf("only the certificates tls.crt and ca.crt should be printed, got %v", kept)
	}
	want := "bundle.pem,client.key,metadata.annotations[example.com/pasted-key-by-accident],metadata.annotations[kubectl.kubernetes.io/last-applied-configuration],other.pem,tls.key"
	if got.Annotations[annotationRedacted] != want {
		t.Errorf("%s = %q, want %q", annotationRedacted, got.Annotations[annotationRedacted], want)
	}
	if got.Annotations["albistio.io/source"] == "" {
		t.Error("annotations without key material must stay")
	}
}

func TestShowPrivateKeysPrintsEverything(t *testing.T) {
	secret := keyedSecret(t)
	var got corev1.Secret
	if err := json.Unmarshal([]byte(printed(t, "json", true, secret)), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Data) != 6 || string(got.Data["tls.key"]) != testKey || string(got.Data["other.pem"]) != testECKey {
		t.Errorf("--show-private-keys should print every data key as it is, got %d keys", len(got.Data))
	}
	if _, ok := got.Annotations[annotationRedacted]; ok || len(got.Annotations) != 3 {
		t.Errorf("--show-private-keys should print the annotations as they are: %v", got.Annotations)
	}
}

func TestRedactionLeavesOthersAlone(t *testing.T) {
	cm := configMapWithKey(t)
	if redactPrivateKeys(cm) != cm {
		t.Error("a ConfigMap is not a Secret: it is printed as it is")
	}
	certOnly := &corev1.Secret{Data: map[string][]byte{"ca.crt": []byte(testCert)}}
	certOnly.APIVersion, certOnly.Kind, certOnly.Name = "v1", "Secret", "x-cacert"
	u := secretObject(t, certOnly)
	if redactPrivateKeys(u) != u {
		t.Error("a Secret without a key needs no copy and no annotation")
	}
	// In a JSON List, every item is redacted and only the Secret changes.
	secret, before := keyedSecret(t), keyedSecret(t)
	out := printed(t, "json", false, cm, secret)
	if !strings.Contains(out, `"kind": "List"`) {
		t.Fatalf("two objects print as one List:\n%s", out)
	}
	var list struct{ Items []json.RawMessage }
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Items) != 2 {
		t.Fatalf("want a List of 2: %v\n%s", err, out)
	}
	if !strings.Contains(string(list.Items[0]), base64.StdEncoding.EncodeToString([]byte(testKey))) && !strings.Contains(string(list.Items[0]), "PRIVATE KEY") {
		t.Errorf("the ConfigMap should print untouched:\n%s", list.Items[0])
	}
	if hasKey(string(list.Items[1])) {
		t.Errorf("the Secret in the List printed a key:\n%s", list.Items[1])
	}
	if !reflect.DeepEqual(secret, before) {
		t.Error("printing a List changed the Secret")
	}
}

func TestRedactionOfStringData(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata":   map[string]any{"name": "s"},
		"stringData": map[string]any{"key.pem": testKey, "ca.crt": testCert},
	}}
	got := redactPrivateKeys(u)
	sd, _, _ := unstructured.NestedStringMap(got.Object, "stringData")
	if len(sd) != 1 || sd["ca.crt"] != testCert || got.GetAnnotations()[annotationRedacted] != "key.pem" {
		t.Errorf("stringData's key should go, its certificate stay: %v %v", sd, got.GetAnnotations())
	}
	if _, ok, _ := unstructured.NestedString(u.Object, "stringData", "key.pem"); !ok {
		t.Error("the original lost its stringData key")
	}
}

// The flag is on every writing command, off by default.
func TestShowPrivateKeysFlag(t *testing.T) {
	root := NewRootCmd(genericiooptions.NewTestIOStreamsDiscard())
	for _, name := range []string{"setup", "secrets", "gateway", "ingress"} {
		c, _, err := root.Find([]string{name})
		if err != nil {
			t.Fatal(err)
		}
		f := c.Flags().Lookup("show-private-keys")
		if f == nil || f.DefValue != "false" || !strings.Contains(f.Usage, "private keys") {
			t.Errorf("%s: --show-private-keys missing or not documented: %+v", name, f)
		}
	}
}
