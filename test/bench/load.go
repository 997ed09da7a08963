package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// LoadOptions says how much to load and where.
type LoadOptions struct {
	// Prefix names the namespaces: <Prefix>-00, <Prefix>-01, ... They must
	// be fresh (deleted namespaces never go away on the test cluster).
	Prefix string
	// Namespaces to spread the objects over (default 50).
	Namespaces int
	// Ingresses, VirtualServices and Secrets to create in all (default 5,000 each).
	Ingresses, VirtualServices, Secrets int
	// Workers create objects in parallel (default 16).
	Workers int
	// ChainName is the albistio.io/chain label every tenth object carries,
	// with the names the plugin gives its own objects: look-alikes of other
	// chains, which a command that strays outside its namespaces would meet.
	ChainName string
}

// Loaded says what Load created and how long it took.
type Loaded struct {
	Namespaces                          []string
	Ingresses, VirtualServices, Secrets int
	Took                                time.Duration
}

// Total is the number of objects created (namespaces not counted).
func (l Loaded) Total() int { return l.Ingresses + l.VirtualServices + l.Secrets }

func (l Loaded) String() string {
	rate := float64(l.Total()) / l.Took.Seconds()
	return fmt.Sprintf("%d Ingresses, %d VirtualServices, %d Secrets in %d namespaces in %s (%.0f objects/s)",
		l.Ingresses, l.VirtualServices, l.Secrets, len(l.Namespaces), l.Took.Round(100*time.Millisecond), rate)
}

// VirtualServices is Istio's VirtualService resource the loader writes.
var VirtualServices = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}

// Load creates, in fresh namespaces, opts.Ingresses Ingresses,
// opts.VirtualServices VirtualServices and opts.Secrets TLS Secrets, each
// of realistic size, with a bounded pool of parallel creates. cfg should be
// an admin's (system:masters is exempt from API priority and fairness); its
// client-side rate limit is lifted. Objects that already exist are kept.
func Load(ctx context.Context, cfg *rest.Config, opts LoadOptions) (Loaded, error) {
	if opts.Prefix == "" {
		return Loaded{}, fmt.Errorf("bench.Load: Prefix is empty")
	}
	if opts.Namespaces <= 0 {
		opts.Namespaces = 50
	}
	if opts.Workers <= 0 {
		opts.Workers = 16
	}
	if opts.ChainName == "" {
		opts.ChainName = "httpbin"
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS = -1 // no client-side throttling: the server is what is measured
	cfg.Burst = 0
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return Loaded{}, err
	}
	pcfg := rest.CopyConfig(cfg)
	pcfg.ContentType = "application/vnd.kubernetes.protobuf"
	kube, err := kubernetes.NewForConfig(pcfg)
	if err != nil {
		return Loaded{}, err
	}

	start := time.Now()
	l := Loaded{}
	for i := 0; i < opts.Namespaces; i++ {
		name := fmt.Sprintf("%s-%02d", opts.Prefix, i)
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"istio-injection": "enabled"}}}
		if _, err := kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return l, fmt.Errorf("creating namespace %s: %w", name, err)
		}
		l.Namespaces = append(l.Namespaces, name)
	}

	// Jobs are indices into one sequence: ingresses, then VirtualServices,
	// then secrets, interleaved by the workers.
	type job struct {
		kind string
		i    int
	}
	jobs := make(chan job)
	var created [3]atomic.Int64
	var firstErr error
	var errOnce sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}
	certPEM, keyPEM, err := selfSigned()
	if err != nil {
		return l, err
	}

	var wg sync.WaitGroup
	for w := 0; w < opts.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				ns := l.Namespaces[j.i%len(l.Namespaces)]
				lookalike := j.i%10 == 0
				labels := map[string]string{"app": fmt.Sprintf("app-%d", j.i%97)}
				if lookalike {
					labels["app.kubernetes.io/managed-by"] = "kubectl-albistio"
					labels["albistio.io/chain"] = opts.ChainName
				}
				var err error
				switch j.kind {
				case "ingress":
					name := fmt.Sprintf("ing-%05d", j.i)
					if lookalike {
						name = fmt.Sprintf("alb-ingress-%05d", j.i)
					}
					_, err = kube.NetworkingV1().Ingresses(ns).Create(ctx, loadIngress(ns, name, j.i, labels), metav1.CreateOptions{})
					if err == nil || apierrors.IsAlreadyExists(err) {
						created[0].Add(1)
					}
				case "virtualservice":
					name := fmt.Sprintf("vs-%05d", j.i)
					if lookalike {
						name = fmt.Sprintf("default-ingress-%05d", j.i)
					}
					_, err = dyn.Resource(VirtualServices).Namespace(ns).Create(ctx, loadVirtualService(ns, name, j.i, labels), metav1.CreateOptions{})
					if err == nil || apierrors.IsAlreadyExists(err) {
						created[1].Add(1)
					}
				case "secret":
					name := fmt.Sprintf("tls-%05d", j.i)
					if lookalike {
						name = fmt.Sprintf("alb-certs-%05d", j.i)
					}
					s := &corev1.Secret{
						ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
						Type:       corev1.SecretTypeTLS,
						Data:       map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM},
					}
					_, err = kube.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{})
					if err == nil || apierrors.IsAlreadyExists(err) {
						created[2].Add(1)
					}
				}
				if err != nil && !apierrors.IsAlreadyExists(err) {
					fail(fmt.Errorf("creating %s %d in %s: %w", j.kind, j.i, ns, err))
					return
				}
			}
		}()
	}
	n := max(opts.Ingresses, opts.VirtualServices, opts.Secrets)
feed:
	for i := 0; i < n; i++ {
		for _, k := range []struct {
			kind string
			want int
		}{{"ingress", opts.Ingresses}, {"virtualservice", opts.VirtualServices}, {"secret", opts.Secrets}} {
			if i >= k.want {
				continue
			}
			select {
			case jobs <- job{k.kind, i}:
			case <-ctx.Done():
				break feed
			}
		}
	}
	close(jobs)
	wg.Wait()
	l.Ingresses, l.VirtualServices, l.Secrets = int(created[0].Load()), int(created[1].Load()), int(created[2].Load())
	l.Took = time.Since(start)
	if firstErr != nil {
		return l, firstErr
	}
	return l, nil
}

// DefaultLoad is the scale: 5,000 each of Ingresses, VirtualServices
// and Secrets, in 50 namespaces named <prefix>-NN.
func DefaultLoad(prefix string) LoadOptions {
	return LoadOptions{Prefix: prefix, Namespaces: 50, Ingresses: 5000, VirtualServices: 5000, Secrets: 5000, Workers: 16}
}

func loadIngress(ns, name string, i int, labels map[string]string) *networkingv1.Ingress {
	class := "public-iks-k8s-nginx"
	prefix := networkingv1.PathTypePrefix
	host := fmt.Sprintf("app-%d.load-%s.example.com", i, ns)
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels, Annotations: map[string]string{
			"nginx.ingress.kubernetes.io/backend-protocol": "HTTPS",
			"nginx.ingress.kubernetes.io/proxy-ssl-verify": "on",
		}},
		Spec: networkingv1.IngressSpec{
			IngressClassName: &class,
			TLS:              []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: fmt.Sprintf("tls-%05d", i)}},
			Rules: []networkingv1.IngressRule{{
				Host: host,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{
						Path: "/", PathType: &prefix,
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
							Name: fmt.Sprintf("svc-%d", i%97), Port: networkingv1.ServiceBackendPort{Number: 8080},
						}},
					}},
				}},
			}},
		},
	}
}

func loadVirtualService(ns, name string, i int, labels map[string]string) *unstructured.Unstructured {
	lbl := map[string]any{}
	for k, v := range labels {
		lbl[k] = v
	}
	host := fmt.Sprintf("app-%d.load-%s.example.com", i, ns)
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/v1",
		"kind":       "VirtualService",
		"metadata":   map[string]any{"name": name, "namespace": ns, "labels": lbl},
		"spec": map[string]any{
			"hosts":    []any{host},
			"gateways": []any{"istio-system/default-ingress-gateway"},
			"http": []any{map[string]any{
				"match": []any{map[string]any{"uri": map[string]any{"prefix": "/"}}},
				"route": []any{map[string]any{"destination": map[string]any{
					"host": fmt.Sprintf("svc-%d.%s.svc.cluster.local", i%97, ns),
					"port": map[string]any{"number": int64(8080)},
				}}},
			}},
		},
	}}
}

// selfSigned is one ECDSA certificate and key that every loaded TLS secret
// carries (the API server warns about TLS secrets it cannot parse).
func selfSigned() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "*.load.example.com"},
		DNSNames:     []string{"*.load.example.com"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(90 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}
