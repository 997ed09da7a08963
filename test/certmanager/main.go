// Command cert-manager-controller runs cert-manager's real Certificate and
// Issuer controllers (the selfSigned and CA issuers only) against a
// kubeconfig, for the end-to-end tests. It is our own small main around
// cert-manager's public entry points — controller.NewContextFactory, Build
// and controller.Known() — because cert-manager's cmd/ binaries are separate
// modules the Go module proxy does not serve. No webhook, no cainjector, no
// ACME, no leader election, no metrics or healthz servers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"k8s.io/klog/v2"

	"github.com/cert-manager/cert-manager/pkg/controller"
	"github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	crca "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	crselfsigned "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	"github.com/cert-manager/cert-manager/pkg/controller/issuers"
	logf "github.com/cert-manager/cert-manager/pkg/logs"

	// The Issuer types the issuers controller can set up (Ready condition).
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
)

// Module is the module whose controllers this binary runs.
const Module = "github.com/cert-manager/cert-manager"

// controllers are started in this order; each package registers its
// constructor with controller.Register in an init function. The approver and
// the issuers controller are not optional: a CertificateRequest is signed only
// once Approved, by an Issuer that is Ready.
var controllers = []string{
	issuers.ControllerName,         // Issuer Ready condition
	approver.ControllerName,        // approves CertificateRequests for cert-manager.io issuers
	crca.CRControllerName,          // signs CertificateRequests of CA Issuers
	crselfsigned.CRControllerName,  // signs CertificateRequests of selfSigned Issuers
	trigger.ControllerName,         // sets Issuing when a Certificate needs (re)issuance
	keymanager.ControllerName,      // the next private key
	requestmanager.ControllerName,  // creates CertificateRequests
	issuing.ControllerName,         // writes the signed certificate into the Secret
	readiness.ControllerName,       // Ready condition, notAfter, renewalTime
	revisionmanager.ControllerName, // garbage-collects old CertificateRequests
}

// Defaults cert-manager's own binary takes from internal/apis/config, which
// another module cannot import.
const (
	defaultQPS                      = 20
	defaultBurst                    = 50
	defaultWorkers                  = 5
	defaultClusterResourceNamespace = "kube-system"
	minRequestBackoff               = time.Hour
	maxRequestBackoff               = 32 * time.Hour
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "cert-manager-controller:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		kubeconfig     = flag.String("kubeconfig", "", "kubeconfig of the cluster to run against (required)")
		clusterNS      = flag.String("cluster-resource-namespace", defaultClusterResourceNamespace, "namespace of ClusterIssuers' secrets")
		readyFile      = flag.String("ready-file", "", "if set, a file written once every informer cache has synced")
		workers        = flag.Int("workers", defaultWorkers, "workers per controller")
		printVersion   = flag.Bool("version", false, "print the cert-manager module version this binary was built from, and exit")
		klogFlags      = flag.NewFlagSet("klog", flag.ContinueOnError)
		verbosityLevel = flag.Int("v", logf.InfoLevel, "log verbosity (cert-manager: 2 info, 4 debug)")
	)
	klog.InitFlags(klogFlags)
	flag.Parse()
	if *printVersion {
		fmt.Println(moduleVersion())
		return nil
	}
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", flag.Args())
	}
	if *kubeconfig == "" {
		return errors.New("--kubeconfig is required")
	}
	if err := klogFlags.Set("v", fmt.Sprint(*verbosityLevel)); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log := logf.Log.WithName("albistio-test")
	ctx = logf.NewContext(ctx, log)
	log.Info("starting", "version", moduleVersion(), "controllers", controllers)

	opts := controller.ContextOptions{
		Kubeconfig:         *kubeconfig,
		KubernetesAPIQPS:   defaultQPS,
		KubernetesAPIBurst: defaultBurst,
		IssuerOptions: controller.IssuerOptions{
			ClusterResourceNamespace: *clusterNS,
		},
		CertificateOptions: controller.CertificateOptions{
			CertificateRequestMinimumBackoffDuration: minRequestBackoff,
			CertificateRequestMaximumBackoffDuration: maxRequestBackoff,
		},
	}
	factory, err := controller.NewContextFactory(ctx, opts)
	if err != nil {
		return fmt.Errorf("building the controller context: %w", err)
	}
	// Every Build shares the factory's informer factories; this one is only
	// for starting them once every controller has registered its informers.
	base, err := factory.Build()
	if err != nil {
		return fmt.Errorf("building the base context: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(controllers))
	for _, name := range controllers {
		construct, ok := controller.Known()[name]
		if !ok {
			return fmt.Errorf("controller %q is not registered", name)
		}
		c, err := construct(factory)
		if err != nil {
			return fmt.Errorf("constructing controller %q: %w", name, err)
		}
		wg.Go(func() {
			if err := c.Run(*workers, ctx); err != nil {
				errs <- fmt.Errorf("controller %q: %w", name, err)
			}
		})
	}

	base.SharedInformerFactory.Start(ctx.Done())
	base.KubeSharedInformerFactory.Start(ctx.Done())
	if !synced(base.SharedInformerFactory.WaitForCacheSync(ctx.Done())) ||
		!synced(base.KubeSharedInformerFactory.WaitForCacheSync(ctx.Done())) {
		cancel()
		wg.Wait()
		return errors.New("informer caches did not sync")
	}
	log.Info("informer caches synced; controllers running")
	if *readyFile != "" {
		if err := os.WriteFile(*readyFile, []byte(moduleVersion()+"\n"), 0o600); err != nil {
			return err
		}
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errs:
	}
	cancel()
	wg.Wait()
	base.SharedInformerFactory.Shutdown()
	base.KubeSharedInformerFactory.Shutdown()
	log.Info("stopped")
	return runErr
}

// moduleVersion is the version of cert-manager's module linked into this
// binary, e.g. v1.21.2; build.sh compares it with the one go.mod requires.
func moduleVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, d := range info.Deps {
		if d.Path == Module {
			if d.Replace != nil {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	return "unknown"
}

// synced tells whether every informer of a WaitForCacheSync result synced.
func synced[K comparable](m map[K]bool) bool {
	for _, ok := range m {
		if !ok {
			return false
		}
	}
	return true
}
