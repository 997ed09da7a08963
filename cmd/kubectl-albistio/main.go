// Command kubectl-albistio is the kubectl plugin `kubectl albistio`.
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/albistio/kubectl-albistio/pkg/cmd"
)

func main() {
	os.Exit(cmd.Execute(os.Args[1:], genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}))
}
