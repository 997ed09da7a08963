package bench

import (
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"sort"
	"strings"
)

// SizeShare is what one module (or package) adds to a binary.
type SizeShare struct {
	Name string
	// Bytes is the sum of the sizes of its symbols that occupy the file
	// (code, read-only data, data; not bss).
	Bytes int64
}

// SizeBreakdown is a binary's symbols summed by module and by package.
type SizeBreakdown struct {
	// Attributed is the sum over all symbols with a package.
	Attributed int64
	// Unattributed is what symbols could not be tied to a package
	// (go:func.* funcdata, runtime tables); the .gopclntab section and ELF
	// overhead are in neither.
	Unattributed int64
	Modules      []SizeShare
	Packages     []SizeShare
}

// Breakdown reads the symbol table of an unstripped Go binary (built
// without -s) and sums symbol sizes by module, using the binary's own
// build info for the module list. The Go standard library and runtime are
// one entry, "std".
func Breakdown(path string) (SizeBreakdown, error) {
	var b SizeBreakdown
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return b, err
	}
	mods := []string{info.Main.Path}
	for _, d := range info.Deps {
		p := d.Path
		if d.Replace != nil {
			p = d.Path // symbols carry the import path, not the replacement's
		}
		mods = append(mods, p)
	}
	// Longest first, so nested modules (a/b/v2 in a/b) win.
	sort.Slice(mods, func(i, j int) bool { return len(mods[i]) > len(mods[j]) })

	f, err := elf.Open(path)
	if err != nil {
		return b, err
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		return b, fmt.Errorf("%s has no symbol table (build it without -ldflags -s): %w", path, err)
	}
	byMod := map[string]int64{}
	byPkg := map[string]int64{}
	for _, s := range syms {
		if s.Size == 0 || int(s.Section) <= 0 || int(s.Section) >= len(f.Sections) {
			continue
		}
		if f.Sections[s.Section].Type == elf.SHT_NOBITS {
			continue
		}
		pkg := symbolPackage(s.Name)
		if pkg == "" {
			b.Unattributed += int64(s.Size)
			continue
		}
		b.Attributed += int64(s.Size)
		byPkg[pkg] += int64(s.Size)
		mod := "std"
		for _, m := range mods {
			if pkg == m || strings.HasPrefix(pkg, m+"/") {
				mod = m
				break
			}
		}
		if mod == "std" && strings.Contains(strings.SplitN(pkg, "/", 2)[0], ".") {
			mod = pkg // a package of no listed module: show it by itself
		}
		byMod[mod] += int64(s.Size)
	}
	b.Modules = sorted(byMod)
	b.Packages = sorted(byPkg)
	return b, nil
}

func sorted(m map[string]int64) []SizeShare {
	out := make([]SizeShare, 0, len(m))
	for k, v := range m {
		out = append(out, SizeShare{Name: k, Bytes: v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Bytes != out[j].Bytes {
			return out[i].Bytes > out[j].Bytes
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// symbolPackage returns the import path of the package a Go symbol belongs
// to, or "" when the symbol belongs to none (linker-made tables).
//
//	k8s.io/api/core/v1.(*Pod).Marshal             → k8s.io/api/core/v1
//	type:*k8s.io/api/core/v1.Pod                  → k8s.io/api/core/v1
//	go:itab.*a/b.T,c/d.I                          → a/b
//	gopkg.in/inf%2ev0.(*Dec).Add                  → gopkg.in/inf.v0
//	sigs.k8s.io/kustomize/kyaml/openapi/kubernetesapi/v1_21_2..gobytes.1 → …/v1_21_2
func symbolPackage(name string) string {
	for _, p := range []string{"type:.eq.", "type:.hash.", "type:.namedata.", "type:.importpath.", "type:", "go:itab.", "go:link.", "go:info."} {
		if strings.HasPrefix(name, p) {
			name = name[len(p):]
			break
		}
	}
	if strings.HasPrefix(name, "go:") {
		return "" // go:func.*, go:string.*, go:buildinfo: the linker's own
	}
	name = strings.TrimLeft(name, "*[]0123456789")
	if i := strings.IndexAny(name, "[,( "); i >= 0 {
		name = name[:i]
	}
	slash := strings.LastIndex(name, "/")
	dot := strings.Index(name[slash+1:], ".")
	if dot < 0 {
		return ""
	}
	pkg := name[:slash+1+dot]
	if pkg == "" || pkg == "type" || pkg == "go" {
		return ""
	}
	return strings.ReplaceAll(pkg, "%2e", ".")
}
