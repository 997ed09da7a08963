package chain

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/spf13/pflag"
)

// A --path becomes a Prefix path in the ALB's Ingress and a prefix match in
// the VirtualService. The three readers disagree on anything but a plain
// path: the API server refuses '//', '.' and '..' segments and "%2f" in a
// Prefix path; ingress-nginx's strict path validation takes only unreserved
// characters (RFC 3986) and '/', and it reads ^$()[]{}*+ as a regular
// expression as soon as any Ingress of the same host sets use-regex; Traefik
// quotes the path in a rule with backticks; Envoy decodes and merges some
// escapes and slashes that nginx does not. So only what all of them read the
// same way is accepted.
const pathAllowed = "use a plain prefix: '/' followed by letters, digits, '-', '.', '_', '~' and '/', like /status/418"

// pathProblem says what is wrong with a --path value, or "" if nothing is.
func pathProblem(path string) string {
	if !strings.HasPrefix(path, "/") {
		return "must start with '/', like /" + path
	}
	for _, r := range path {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return "contains whitespace or a control character (a pasted line break?); " + pathAllowed
		}
	}
	switch {
	case strings.Contains(path, "%"):
		return "contains '%': the ALB and the gateway decode percent-escapes differently, so a prefix with one matches at one and not the other; " + pathAllowed
	case strings.Contains(path, "?"):
		return "contains '?': a prefix matches the path only, never the query string; " + pathAllowed
	case strings.Contains(path, "#"):
		return "contains '#': browsers never send the fragment, so no request could match; " + pathAllowed
	case strings.Contains(path, "//"):
		return "contains '//', an empty segment, which the API server refuses in a Prefix path; " + pathAllowed
	}
	for _, seg := range strings.Split(path[1:], "/") {
		if seg == "." || seg == ".." {
			return fmt.Sprintf("contains a '%s' segment, which the API server refuses in a Prefix path and which requests no longer carry once the ALB normalizes them; %s", seg, pathAllowed)
		}
	}
	for _, r := range path {
		if !pathRune(r) {
			return fmt.Sprintf("contains %q, which ingress-nginx refuses in a Prefix path or reads as a regular expression; %s", r, pathAllowed)
		}
	}
	return ""
}

// pathRune says whether r may appear in a --path: RFC 3986's unreserved
// characters and the segment separator.
func pathRune(r rune) bool {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return true
	}
	return strings.ContainsRune("-._~/", r)
}

// pathsVar registers --path. pflag reads each value as one CSV record, so a
// line break ends it and the rest of the value was dropped without a word;
// the flag refuses line breaks instead. Commas, repetition and the default
// work as with StringSliceVar.
func pathsVar(fs *pflag.FlagSet, p *[]string, name, usage string) {
	fs.StringSliceVar(p, name, *p, usage)
	f := fs.Lookup(name)
	f.Value = noLineBreaks{f.Value}
}

type noLineBreaks struct{ pflag.Value }

func (v noLineBreaks) Set(s string) error {
	if strings.ContainsAny(s, "\r\n") {
		return errors.New("must not contain a line break: give each URI prefix its own --path, or separate them with commas")
	}
	return v.Value.Set(s)
}
