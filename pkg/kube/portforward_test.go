package kube

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/httpstream/spdy"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

// fakeKubelet plays the API server and the kubelet for one pod's
// portforward subresource: it speaks the portforward.k8s.io protocol over
// SPDY and connects every data stream to target. (The real test API server
// has no kubelet behind it, so this is as far as a port-forward can be
// tested here.)
func fakeKubelet(t *testing.T, path, target string, ports chan<- string) *httptest.Server {
	t.Helper()
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != path || req.Method != http.MethodPost {
			http.Error(w, "pods \"x\" is forbidden", http.StatusForbidden)
			return
		}
		if _, err := httpstream.Handshake(req, w, []string{"portforward.k8s.io"}); err != nil {
			return
		}
		streams := make(chan httpstream.Stream, 8)
		conn := spdy.NewResponseUpgrader().UpgradeResponse(w, req, func(s httpstream.Stream, _ <-chan struct{}) error {
			streams <- s
			return nil
		})
		if conn == nil {
			return
		}
		defer conn.Close()
		var mu sync.Mutex
		errorStreams := map[string]httpstream.Stream{}
		for {
			select {
			case s := <-streams:
				id := s.Headers().Get("requestID")
				switch s.Headers().Get("streamType") {
				case "error":
					mu.Lock()
					errorStreams[id] = s
					mu.Unlock()
				case "data":
					ports <- s.Headers().Get("port")
					go func() {
						defer s.Close()
						c, err := net.Dial("tcp", target)
						if err != nil {
							return
						}
						defer c.Close()
						go func() { _, _ = io.Copy(c, s) }()
						_, _ = io.Copy(s, c)
						mu.Lock()
						if es := errorStreams[id]; es != nil {
							es.Close()
						}
						mu.Unlock()
					}()
				}
			case <-conn.CloseChan():
				return
			}
		}
	}))
}

func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

func configFlagsFor(t *testing.T, server string) *genericclioptions.ConfigFlags {
	t.Helper()
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "no-kubeconfig"))
	cf := genericclioptions.NewConfigFlags(false)
	cf.APIServer = &server
	return cf
}

func TestPortForwardCarriesBytesToThePod(t *testing.T) {
	ports := make(chan string, 1)
	srv := fakeKubelet(t, "/api/v1/namespaces/istio-system/pods/gw-0/portforward", echoServer(t), ports)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addr, stop, err := PortForward(ctx, configFlagsFor(t, srv.URL), "istio-system", "gw-0", 8443)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Errorf("local address %s is not on the loopback", addr)
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("read %q, %v through the forward; want the echo \"ping\"", buf, err)
	}
	if got := <-ports; got != "8443" {
		t.Errorf("the forward asked for port %s, want 8443", got)
	}
}

func TestPortForwardRefused(t *testing.T) {
	srv := fakeKubelet(t, "/nowhere", "127.0.0.1:1", make(chan string, 1))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err := PortForward(ctx, configFlagsFor(t, srv.URL), "istio-system", "gw-0", 8443)
	if err == nil || !strings.Contains(err.Error(), "pods/portforward") {
		t.Fatalf("got %v, want an error naming the pods/portforward permission", err)
	}
}
