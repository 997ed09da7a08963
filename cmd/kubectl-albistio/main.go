package main

import (
	_ "github.com/spf13/cobra"
	_ "istio.io/client-go/pkg/apis/networking/v1"
	_ "k8s.io/cli-runtime/pkg/genericclioptions"
	_ "k8s.io/client-go/kubernetes"
	_ "k8s.io/kubectl/pkg/cmd/util"
)

func main() {}
