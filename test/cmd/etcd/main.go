// Command etcd runs the etcd server the test cluster stores its objects in.
// Debian's etcd-server is 3.4, older than kube-apiserver supports, so the tests
// build etcd at the version k8s.io/kubernetes itself pins.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
