package kube

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path"
	"strconv"
	"sync"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// PortForward forwards a port of a loopback address of this machine to
// port of pod namespace/name through the API server (SPDY, as kubectl
// port-forward), so a pod can be reached from anywhere kubectl works. It
// returns the local address and a function that stops the forward; the
// forward also stops when ctx ends. It needs the pods/portforward create
// permission.
func PortForward(ctx context.Context, getter genericclioptions.RESTClientGetter, namespace, pod string, port int) (string, func(), error) {
	cfg, err := getter.ToRESTConfig()
	if err != nil {
		return "", nil, fmt.Errorf("cannot load the kubeconfig: %w", err)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = UserAgent
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return "", nil, fmt.Errorf("cannot build a port-forward client for %s: %w", cfg.Host, err)
	}
	u, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return "", nil, fmt.Errorf("cannot build a port-forward client for %s: %w", cfg.Host, err)
	}
	u.Path = path.Join(u.Path, "api", "v1", "namespaces", namespace, "pods", pod, "portforward")
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)

	stop := make(chan struct{})
	ready := make(chan struct{})
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, stop, ready, io.Discard, io.Discard)
	if err != nil {
		return "", nil, fmt.Errorf("cannot forward to pod %s/%s port %d: %w", namespace, pod, port, err)
	}
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	var once sync.Once
	stopFn := func() { once.Do(func() { close(stop) }) }
	select {
	case <-ready:
	case err := <-done:
		if err == nil {
			err = fmt.Errorf("the forward ended before it was ready")
		}
		return "", nil, fmt.Errorf("cannot forward to pod %s/%s port %d (it needs permission to create pods/portforward, and a running pod): %w", namespace, pod, port, err)
	case <-ctx.Done():
		stopFn()
		return "", nil, fmt.Errorf("forwarding to pod %s/%s port %d: %w", namespace, pod, port, ctx.Err())
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) == 0 {
		stopFn()
		return "", nil, fmt.Errorf("forwarding to pod %s/%s port %d: no local port: %v", namespace, pod, port, err)
	}
	go func() {
		<-ctx.Done()
		stopFn()
	}()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ports[0].Local))), stopFn, nil
}
