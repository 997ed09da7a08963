package cmd

import "strings"

// longDesc trims a help text and removes the indentation common to its
// lines. Unlike templates.LongDesc it keeps line breaks, so tables and lists
// in the help read as written.
func longDesc(s string) string {
	lines := strings.Split(strings.Trim(s, "\n"), "\n")
	indent := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " \t"))
		if indent < 0 || n < indent {
			indent = n
		}
	}
	for i, l := range lines {
		if len(l) >= indent && indent > 0 {
			lines[i] = l[indent:]
		} else {
			lines[i] = strings.TrimSpace(l)
		}
	}
	return strings.Join(lines, "\n")
}
