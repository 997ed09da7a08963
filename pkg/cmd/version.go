package cmd

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"
)

// Set at link time by the Makefile (-X); "dev" for go run and go install.
var (
	version = "dev"
	commit  = "unknown"
)

// VersionInfo is what `version -o json|yaml` prints.
type VersionInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// NewCmdVersion prints the plugin's version; it never contacts a cluster.
func NewCmdVersion(streams genericiooptions.IOStreams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the plugin's version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			info := VersionInfo{Version: moduleVersion(version), Commit: commit, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
			switch output {
			case "":
				_, err := fmt.Fprintf(streams.Out, "kubectl-albistio %s (commit %s, %s, %s)\n", info.Version, info.Commit, info.GoVersion, info.Platform)
				return err
			case "json":
				data, err := json.MarshalIndent(info, "", "  ")
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(streams.Out, string(data))
				return err
			case "yaml":
				data, err := yaml.Marshal(info)
				if err != nil {
					return err
				}
				_, err = streams.Out.Write(data)
				return err
			}
			return usage(fmt.Errorf("invalid --output %q: use json or yaml", output))
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: json or yaml")
	return cmd
}

// moduleVersion falls back to the module version `go install …@vX.Y.Z`
// records in the binary when the Makefile did not stamp one.
func moduleVersion(stamped string) string {
	if stamped != "dev" {
		return stamped
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return stamped
}
