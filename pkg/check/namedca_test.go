package check

import (
	"context"
	"encoding/base64"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// setCaCertCredentialName sets caCertCredentialName on every server of the
// world's Gateway.
func (w *world) setCaCertCredentialName(t *testing.T, name string) {
	t.Helper()
	_, u := w.find(testGateway)
	if u == nil {
		t.Fatalf("no Gateway in the world")
	}
	servers, _, _ := unstructured.NestedSlice(u.Object, "spec", "servers")
	for _, sv := range servers {
		tls, _ := sv.(map[string]any)["tls"].(map[string]any)
		tls["caCertCredentialName"] = name
	}
	if err := unstructured.SetNestedSlice(u.Object, servers, "spec", "servers"); err != nil {
		t.Fatal(err)
	}
}

// addSecret adds a Secret name in the Istio namespace with data, without
// the plugin's labels (so not in its LIST).
func (w *world) addSecret(name string, data map[string][]byte) {
	d := map[string]any{}
	for k, v := range data {
		d[k] = base64.StdEncoding.EncodeToString(v)
	}
	w.objects = append(w.objects, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": name, "namespace": istioNS}, "data": d}})
}

// TestNamedClientCA judges caCertCredentialName as Istio's SDS reads it
// (the cases test/e2e/istio_check_test.go runs against Istio's own code):
// a name without -cacert is read as a certificate and key (ALB0416,
// whatever it holds); a -cacert name is read as a CA, cacert before ca.crt,
// and the ALB's client chain must verify against it (ALB0202); one that
// does is only ALB0415. Each costs one GET more than a plain check, and
// only when the name ends in -cacert.
func TestNamedClientCA(t *testing.T) {
	base := newWorld(t, worldOptions{})
	// The named secret's data: "plugin" is the world's own client CA,
	// "other" a foreign root.
	pluginCA, other := []byte("plugin"), []byte("other")
	for _, tc := range []struct {
		name     string
		ca       string
		data     map[string][]byte // the named secret, nil for none
		want     []Code
		requests int
	}{
		{"-cacert holding the plugin's CA", "other-client-ca-cacert", map[string][]byte{"ca.crt": pluginCA}, []Code{GatewayClientCAOther}, Requests + 1},
		{"-cacert holding a foreign CA", "other-client-ca-cacert", map[string][]byte{"ca.crt": other}, []Code{ClientCertUntrusted, GatewayClientCAOther}, Requests + 1},
		{"-cacert: cacert foreign, ca.crt the plugin's", "other-client-ca-cacert", map[string][]byte{"cacert": other, "ca.crt": pluginCA}, []Code{ClientCertUntrusted, GatewayClientCAOther}, Requests + 1},
		{"-cacert missing", "other-client-ca-cacert", nil, []Code{GatewayClientCAMissing}, Requests + 1},
		{"CA-only secret without the suffix", "other-client-ca", map[string][]byte{"ca.crt": pluginCA}, []Code{GatewayClientCANotCA}, Requests},
		{"the credential itself", base.params.GatewaySecret, nil, []Code{GatewayClientCANotCA}, Requests},
		{"the plugin's own -cacert", base.params.ClientCASecret(), nil, nil, Requests},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, worldOptions{})
			w.setCaCertCredentialName(t, tc.ca)
			if tc.data != nil {
				data := map[string][]byte{}
				for k, v := range tc.data {
					data[k] = testPKI(t).pem["other.root"]
					if string(v) == "plugin" {
						data[k] = w.secret(t, w.params.ClientCASecret()).Data["ca.crt"]
					}
				}
				w.addSecret(tc.ca, data)
			}
			fs, api := w.check(t)
			var got []Code
			for _, f := range fs {
				got = append(got, f.Code)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("codes %v, want %v: %v", got, tc.want, fs)
			}
			if n := api.requests(); n != tc.requests {
				t.Errorf("%d requests, want %d", n, tc.requests)
			}
		})
	}
	// Unset, nothing more is read.
	api := newFakeAPI(t, base)
	p := *base.params
	if _, err := Read(context.Background(), api, &p); err != nil {
		t.Fatal(err)
	}
	if n := api.requests(); n != Requests {
		t.Errorf("without caCertCredentialName: %d requests, want %d", n, Requests)
	}
}
