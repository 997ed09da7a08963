package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
)

// GatewayAPIModule is the Gateway API release whose standard CRDs the tests
// install (v1.6.x: spec.tls.frontend is Standard since v1.5.0; v1.7.0 needs a
// newer Go).
const GatewayAPIModule = "sigs.k8s.io/gateway-api@v1.6.3"

// GatewayAPIGroupVersion is the Gateway API version the plugin writes.
const GatewayAPIGroupVersion = "gateway.networking.k8s.io/v1"

// GatewayAPICRDFiles lists config/crd/standard/*.yaml of GatewayAPIModule,
// from the Go module cache (downloaded through the module proxy if absent).
func GatewayAPICRDFiles() ([]string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", GatewayAPIModule)
	// Outside any module: the download needs no go.mod entry.
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GO111MODULE=on")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go mod download %s: %w", GatewayAPIModule, withStderr(err))
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil {
		return nil, fmt.Errorf("go mod download -json %s: %w", GatewayAPIModule, err)
	}
	if mod.Error != "" || mod.Dir == "" {
		return nil, fmt.Errorf("go mod download %s: %s", GatewayAPIModule, mod.Error)
	}
	files, err := filepath.Glob(filepath.Join(mod.Dir, "config", "crd", "standard", "gateway.networking.k8s.io_*.yaml"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no standard CRDs in %s: %v", mod.Dir, err)
	}
	return files, nil
}

// InstallGatewayAPI creates the Gateway API's standard CRDs (keeping ones
// that exist) and waits until discovery serves gateways and httproutes at
// v1. A served Gateway API changes nothing for the classic mode's tests
// but what setup and cleanup look for; tests that need it install it and
// UninstallGatewayAPI after.
func (c *Cluster) InstallGatewayAPI(ctx context.Context) error {
	files, err := GatewayAPICRDFiles()
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
			if strings.Contains(err.Error(), "no CustomResourceDefinition") {
				continue // the ValidatingAdmissionPolicy of safe upgrades
			}
			return err
		}
		for _, obj := range objs {
			if err := createCRD(ctx, crds, obj); err != nil {
				return err
			}
			installed = append(installed, obj)
		}
	}
	return c.waitCRDsReady(ctx, "Gateway API", installed, GatewayAPIGroupVersion, "gateways", "httproutes", "gatewayclasses")
}

// UninstallGatewayAPI deletes the Gateway API's CRDs (and with them their
// objects) and waits until discovery no longer serves the group.
func (c *Cluster) UninstallGatewayAPI(ctx context.Context) error {
	dyn, err := dynamic.NewForConfig(c.RESTConfig())
	if err != nil {
		return err
	}
	crds := dyn.Resource(crdGVR)
	list, err := crds.List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	var mine []unstructured.Unstructured
	for _, crd := range list.Items {
		if g, _, _ := unstructured.NestedString(crd.Object, "spec", "group"); g == "gateway.networking.k8s.io" {
			mine = append(mine, crd)
		}
	}
	// The objects first, as for cert-manager (UninstallCertManager says why).
	errs := []error{deleteInstances(ctx, dyn, mine)}
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
	var left string
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 100*time.Second, true, func(ctx context.Context) (bool, error) {
		for _, n := range names {
			crd, err := crds.Get(ctx, n, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				continue
			}
			if err != nil {
				left = fmt.Sprintf("CRD %s: %v", n, err)
			} else {
				left = fmt.Sprintf("CRD %s (%s)", n, terminating(crd))
			}
			return false, nil
		}
		_, err := disc.ServerResourcesForGroupVersion(GatewayAPIGroupVersion)
		left = fmt.Sprintf("discovery: %v", err)
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("waiting for the Gateway API to be no longer served (%s): %w", left, err))
	}
	return errors.Join(errs...)
}

// storageResource is the resource a CRD stores its objects at.
func storageResource(crd *unstructured.Unstructured) schema.GroupVersionResource {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	version := ""
	for _, v := range versions {
		m, _ := v.(map[string]any)
		if m["storage"] == true {
			version, _ = m["name"].(string)
		}
	}
	return schema.GroupVersionResource{Group: group, Version: version, Resource: plural}
}
