package datapath

import "testing"

// Envoy's virtual host and route selection as the stand-in applies it.
func TestPickVirtualHostAndRoute(t *testing.T) {
	vhs := []IstioVirtualHost{
		{Name: "exact", Domains: []string{"a.example.com"}},
		{Name: "suffix", Domains: []string{"*.example.com"}},
		{Name: "longer-suffix", Domains: []string{"*.b.example.com"}},
		{Name: "prefix", Domains: []string{"c.*"}},
		{Name: "any", Domains: []string{"*"}},
	}
	for host, want := range map[string]string{
		"a.example.com": "exact", "A.EXAMPLE.com": "exact", "x.example.com": "suffix", "x.b.example.com": "longer-suffix",
		"c.other": "prefix", "other": "any",
	} {
		if got := pickVirtualHost(vhs, host); got == nil || got.Name != want {
			t.Errorf("pickVirtualHost(%q) = %+v, want %s", host, got, want)
		}
	}
	if got := pickVirtualHost(vhs[:1], "b.example.com"); got != nil {
		t.Errorf("no domain matches, got %+v", got)
	}
	vh := &IstioVirtualHost{Routes: []IstioRoute{
		{Name: "exact", Path: "/exact"},
		{Name: "sep", PathSeparated: "/status"},
		{Name: "re", Regex: "/re/[0-9]+"},
		{Name: "all", Prefix: "/"},
	}}
	for path, want := range map[string]string{
		"/exact": "exact", "/exact/x": "all", "/status": "sep", "/status/418": "sep", "/statusfoo": "all",
		"/re/12": "re", "/re/12x": "all",
	} {
		if got := pickRoute(vh, path); got == nil || got.Name != want {
			t.Errorf("pickRoute(%q) = %+v, want %s", path, got, want)
		}
	}
}

func TestPickChain(t *testing.T) {
	chains := [][]string{{"a.example.com"}, {"*.example.com"}, {}}
	for sni, want := range map[string]int{"a.example.com": 0, "b.example.com": 1, "": 2, "other": 2} {
		if got := pickChain(chains, sni); got != want {
			t.Errorf("pickChain(%q) = %d, want %d", sni, got, want)
		}
	}
	if got := pickChain(chains[:2], "other"); got != -1 {
		t.Errorf("no chain matches: got %d", got)
	}
}
