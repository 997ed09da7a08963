#!/usr/bin/env bash
# Checks that kubectl (1.26+) completes `kubectl albistio ...` through the
# kubectl_complete-albistio shim, with whatever kubectl-albistio and shim the
# current PATH holds: kubectl runs the shim, the shim runs the plugin's
# hidden __complete command.
set -uo pipefail

for exe in kubectl kubectl-albistio kubectl_complete-albistio; do
	command -v "$exe" >/dev/null || { echo "completion: $exe is not on PATH" >&2; exit 1; }
done
echo "completion: kubectl-albistio=$(command -v kubectl-albistio) shim=$(command -v kubectl_complete-albistio)"

failed=0
# offers <words...> -- <expected candidate>...: kubectl lists each candidate
# (first tab-separated field of a line) for the words.
offers() {
	local words=() want out
	while [[ $1 != -- ]]; do words+=("$1"); shift; done
	shift
	out=$(kubectl __complete albistio "${words[@]}" 2>/dev/null)
	for want in "$@"; do
		if ! grep -q "^$want"$'\t' <<<"$out"; then
			echo "FAIL  kubectl albistio ${words[*]}<TAB> does not offer $want; got:"
			sed 's/^/      /' <<<"$out"
			failed=$((failed + 1))
			return
		fi
	done
	echo "ok    kubectl albistio ${words[*]}<TAB> -> $(cut -f1 <<<"$out" | grep -v '^:' | tr '\n' ' ')"
}

offers "" -- check cleanup completion gateway ingress secrets setup version
offers se -- secrets
offers secrets --alb- -- --alb-domain --alb-flavor --alb-secret --alb-secret-namespace
offers gateway --gateway-s -- --gateway-secret --gateway-selector --gateway-service
offers completion "" -- bash fish powershell zsh
[[ $failed -eq 0 ]]
