package chain

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// --path goes into the Ingress as a Prefix path and into the VirtualService as
// a prefix match. What ingress-nginx, Traefik and the API server all take as a
// plain prefix passes; anything else is refused with what is wrong and what is
// allowed.
func TestPathValidation(t *testing.T) {
	allowed := "letters, digits, '-', '.', '_', '~' and '/'"
	cases := []struct {
		name, path string
		want       []string // substrings of the problem; nil means valid
	}{
		{"plain", "/status", nil},
		{"two segments", "/status/418", nil},
		{"every allowed character", "/a-b_c.d~e", nil},
		{"trailing slash", "/v1/", nil},
		{"root", "/", nil},
		{"dot inside a segment", "/.well-known/acme-challenge", nil},
		{"upper case", "/API/V2", nil},

		{"relative", "status", []string{"must start with '/'", "like /status"}},
		{"empty", "", []string{"must start with '/'"}},
		{"parent segment", "/../etc", []string{"'..'", allowed}},
		{"parent segment inside", "/a/../b", []string{"'..'"}},
		{"parent segment at the end", "/a/..", []string{"'..'"}},
		{"dot segment", "/./a", []string{"'.'"}},
		{"dot segment at the end", "/a/.", []string{"'.'"}},
		{"leading double slash", "//x", []string{"'//'", allowed}},
		{"double slash inside", "/a//b", []string{"'//'"}},
		{"escaped slash", "/a%2fb", []string{"'%'", allowed}},
		{"escaped slash, upper case", "/a%2Fb", []string{"'%'"}},
		{"escaped NUL", "/%00", []string{"'%'"}},
		{"fragment", "/a#b", []string{"'#'", allowed}},
		{"query", "/a?b=c", []string{"'?'", allowed}},
		{"space", "/a b", []string{"whitespace or a control character", allowed}},
		{"tab", "/a\tb", []string{"whitespace or a control character"}},
		{"newline", "/status\n/x", []string{"whitespace or a control character"}},
		{"carriage return", "/status\r", []string{"whitespace or a control character"}},
		{"NUL", "/a\x00b", []string{"whitespace or a control character"}},
		{"DEL", "/a\x7f", []string{"whitespace or a control character"}},
		{"no-break space", "/a\u00a0b", []string{"whitespace or a control character"}},
		{"regex star", "/a.*", []string{"'*'", allowed}},
		{"regex group", "/(a|b)", []string{"'('"}},
		{"regex anchor", "/^a", []string{"'^'"}},
		{"regex end", "/a$", []string{"'$'"}},
		{"regex class", "/a[0-9]", []string{"'['"}},
		{"regex plus", "/a+", []string{"'+'"}},
		{"nginx brace", "/a{b}", []string{"'{'"}},
		{"backslash", `/a\b`, []string{`'\\'`}},
		{"semicolon", "/a;b", []string{"';'"}},
		{"quote", `/a"b`, []string{`'"'`}},
		{"apostrophe", "/a'b", []string{`'\''`}},
		{"backtick, Traefik's rule quote", "/a`b", []string{"'`'"}},
		{"colon", "/a:b", []string{"':'"}},
		{"at", "/a@b", []string{"'@'"}},
		{"non-ASCII", "/café", []string{"'é'"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := validFlags()
			f.Paths = []string{tc.path}
			p, err := f.Resolve("httptools", noEnv, NeedAll)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("%q: want valid, got %v", tc.path, err)
				}
				if len(p.Paths) != 1 || p.Paths[0] != tc.path {
					t.Errorf("paths %q, want [%q] unchanged", p.Paths, tc.path)
				}
				return
			}
			errs, ok := err.(ParamErrors)
			if !ok || len(errs) != 1 || errs[0].Flag != "--path" {
				t.Fatalf("%q: want one --path problem, got %v", tc.path, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs[0].Problem, w) {
					t.Errorf("%q: the problem lacks %q:\n%s", tc.path, w, errs[0].Problem)
				}
			}
		})
	}
}

// pflag reads a --path value as one CSV record: a line break ends the record
// and whatever follows it was dropped without a word.
func TestPathFlagRefusesLineBreaks(t *testing.T) {
	parse := func(args ...string) (*Flags, error) {
		f := NewFlags()
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		fs.SetOutput(&strings.Builder{})
		f.AddFlags(fs)
		return f, fs.Parse(args)
	}
	for _, v := range []string{"/status\n/x", "/status\r\n/x", "/status\n"} {
		f, err := parse("--path", v)
		if err == nil {
			t.Errorf("--path %q: want an error, got paths %q", v, f.Paths)
			continue
		}
		if !strings.Contains(err.Error(), "line break") || !strings.Contains(err.Error(), "--path") {
			t.Errorf("--path %q: the error should name the flag and the line break: %v", v, err)
		}
	}

	// What pflag did before still holds: commas separate, the flag repeats,
	// the default stays.
	f, err := parse("--path", "/a,/b", "--path", "/c")
	if err != nil || strings.Join(f.Paths, " ") != "/a /b /c" {
		t.Errorf("want /a /b /c, got %q, %v", f.Paths, err)
	}
	f, err = parse()
	if err != nil || strings.Join(f.Paths, " ") != "/status" {
		t.Errorf("want the default /status, got %q, %v", f.Paths, err)
	}
}

// A DNS label is at most 63 characters and a name at most 253 (RFC 1035);
// IsDNS1123Subdomain checks only the whole name's length.
func TestDNSNameLengths(t *testing.T) {
	label63 := strings.Repeat("a", 63)
	label64 := strings.Repeat("a", 64)
	long := strings.Repeat(label63+".", 3) + strings.Repeat("b", 62) // 254 characters, no label over 63
	cases := []struct {
		name   string
		mutate func(*Flags)
		want   []string
	}{
		{"63-character host label", func(f *Flags) { f.Host = label63 + ".example.com" }, nil},
		{"64-character host label", func(f *Flags) { f.Host = label64 + ".example.com" }, []string{"--host", "64 characters", "at most 63"}},
		{"64-character ALB domain label", func(f *Flags) { f.ALBDomain = "x." + label64 + ".cloud" }, []string{"--alb-domain", "at most 63"}},
		{"64-character gateway domain label", func(f *Flags) { f.GatewayDomain = label64 + ".example.com" }, []string{"--gateway-domain", "at most 63"}},
		{"254-character host", func(f *Flags) { f.Host = long }, []string{"--host", "254 characters", "at most 253"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { expectResolve(t, tc.mutate, NeedAll, tc.want) })
	}
}
