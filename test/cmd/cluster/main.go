// Command cluster starts and stops the end-to-end test cluster outside `go test`,
// for `make cluster-up` / `make cluster-down` and for demos:
//
//	go run ./cmd/cluster up --dir /tmp/albistio-cluster
//	go run ./cmd/cluster down --dir /tmp/albistio-cluster
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/albistio/kubectl-albistio/test/cluster"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 || (args[0] != "up" && args[0] != "down") {
		return fmt.Errorf("usage: cluster up|down --dir DIR [--bin DIR]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	dir := fs.String("dir", "", "directory for the cluster's data, keys, kubeconfigs, logs and PID files")
	bin := fs.String("bin", cluster.DefaultBinDir(), "directory holding kube-apiserver and etcd")
	timeout := fs.Duration("timeout", 3*time.Minute, "how long `up` waits for the cluster to be ready")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *dir == "" {
		return fmt.Errorf("%s: --dir is required", args[0])
	}
	if args[0] == "down" {
		if err := cluster.StopDir(*dir); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "cluster in %s stopped\n", *dir)
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	start := time.Now()
	c, err := cluster.Start(ctx, cluster.Options{BinDir: *bin, Dir: *dir, Detach: true})
	if err != nil {
		return err
	}
	etcd, api := c.PIDs()
	fmt.Fprintf(os.Stderr, "cluster ready in %s at %s (etcd pid %d, kube-apiserver pid %d); stop it with: make cluster-down (from the repository), or go run ./cmd/cluster down --dir %s (from test/)\n",
		time.Since(start).Round(100*time.Millisecond), c.Server, etcd, api, c.Dir)
	for _, u := range cluster.Users()[1:] {
		fmt.Fprintf(os.Stderr, "kubeconfig for %s: %s\n", u, c.KubeconfigFor(u))
	}
	fmt.Printf("export KUBECONFIG=%s\n", c.Kubeconfig)
	return nil
}
