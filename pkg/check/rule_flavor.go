package check

import (
	"fmt"
	"sort"
	"strings"

	"github.com/albistio/kubectl-albistio/pkg/flavor"
)

// bluemixPrefix is the annotation prefix of the legacy IBM ALB image.
const bluemixPrefix = "ingress.bluemix.net/"

// checkFlavor: the flavor check judges the Ingress by is the one the
// cluster's ALBs run: detected, consistent with the IngressClasses, and not
// mixed with the legacy image's annotations.
func checkFlavor(in *Input) []Finding {
	s, p := in.Snapshot, in.Params
	if s.FlavorError != "" {
		return []Finding{NewFinding(FlavorUndetected, ObjectRef("IngressClass", "", "*"), "",
			flavorProblem(s.FlavorError)+"; the Ingress's annotations were not checked",
			"pass --alb-flavor=nginx, traefik or classic (and --ingress-class) for the ALB that serves the host")}
	}
	var fs []Finding
	modern := map[string]string{}
	for _, ic := range s.IngressClasses {
		if fl := flavor.ByController(ic.Spec.Controller); fl != nil {
			modern[ic.Name] = string(fl.Name())
		}
	}
	fl := flavor.For(p.Flavor)
	switch {
	case fl == nil:
	case len(fl.Controllers()) == 0:
		// The legacy image, which predates IngressClasses.
		if len(modern) > 0 {
			fs = append(fs, NewFinding(FlavorMismatch, ObjectRef("IngressClass", "", "*"), "",
				fmt.Sprintf("--alb-flavor is classic, but the cluster's ALBs are %s: they ignore the ingress.bluemix.net/ssl-services annotation, so the ALB neither re-encrypts nor presents a client certificate", describeClasses(modern)),
				"use --alb-flavor=auto (or nginx/traefik) and re-run kubectl albistio ingress"))
		}
	default:
		found := false
		for _, f := range modern {
			found = found || f == string(p.Flavor)
		}
		if !found {
			what := "no IngressClass of an IKS ALB"
			if len(modern) > 0 {
				what = describeClasses(modern)
			}
			fs = append(fs, NewFinding(FlavorMismatch, ObjectRef("IngressClass", "", "*"), "",
				fmt.Sprintf("--alb-flavor is %s, but the cluster has %s: no ALB reads the %s annotations", p.Flavor, what, p.Flavor),
				"use --alb-flavor=auto, or the flavor of the ALB that serves the host"))
		}
		if ing := s.Ingress; ing != nil {
			var legacy []string
			for k := range ing.Annotations {
				if strings.HasPrefix(k, bluemixPrefix) {
					legacy = append(legacy, k)
				}
			}
			if len(legacy) > 0 {
				sort.Strings(legacy)
				fs = append(fs, NewFinding(BluemixAnnotationIgnore, ObjectRef("Ingress", ing.Namespace, ing.Name), "metadata.annotations",
					fmt.Sprintf("only the legacy IBM ALB image reads %s; the %s ALB ignores them (IBM docs, Customizing ALB routing), so they do not do what they say", joinQuoted(legacy), p.Flavor),
					fmt.Sprintf("remove them; the plugin's %s annotations do their job (kubectl albistio ingress writes them)", p.Flavor)))
			}
		}
	}
	return fs
}

// flavorProblem keeps what is wrong from kube.FlavorFromClasses's error and
// drops its advice, which the finding's fix line gives.
func flavorProblem(msg string) string {
	for _, sep := range []string{"; pass --alb-flavor", ". Pass --alb-flavor"} {
		if before, _, ok := strings.Cut(msg, sep); ok {
			return before
		}
	}
	return msg
}

func describeClasses(classes map[string]string) string {
	var parts []string
	for name, f := range classes {
		parts = append(parts, fmt.Sprintf("%s (IngressClass %s)", f, name))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
