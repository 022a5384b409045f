#!/bin/sh
# Prints the folder that holds panva's oidc-provider (node_modules/oidc-provider), the
# third OpenID provider of the end-to-end tests (e2e/harness/panva.go), installing it
# first when it is missing: `npm ci` of e2e/harness/panva's package.json and
# package-lock.json into $(go env GOCACHE)/ags-oidc-provider/<version>-<lock hash>,
# outside the repository (as tools/build-lib.sh puts the Go tools), so a second call
# is instant. The lock's hash is in the name: a change of any locked package installs
# into a new folder. Progress goes to stderr; only the folder to stdout.
set -eu
src=$(cd "$(dirname "$0")/../../e2e/harness/panva" && pwd)
version=$(sed -n 's/^ *"oidc-provider": *"\([^"]*\)".*/\1/p' "$src/package.json" | head -n 1)
if [ -z "$version" ]; then
	echo "install.sh: no oidc-provider version in $src/package.json" >&2
	exit 1
fi
lock=$(sha256sum "$src/package-lock.json" | cut -c1-12)
out="$(go env GOCACHE)/ags-oidc-provider/$version-$lock"
# .installed is written last: a folder without it is not a whole install.
if [ ! -f "$out/.installed" ]; then
	if ! command -v npm >/dev/null; then
		echo "install.sh: no npm on PATH: install Node.js 20.18 or later with npm" >&2
		exit 1
	fi
	echo "install.sh: installing oidc-provider $version into $out (npm ci, seconds)" >&2
	start=$(date +%s)
	# npm ci into a folder of our own, renamed into place at the end (atomic: a
	# caller at the same time sees no folder or a whole one).
	tmp="$out.tmp.$$"
	trap 'rm -rf "$tmp"' EXIT INT TERM
	mkdir -p "$tmp"
	cp "$src/package.json" "$src/package-lock.json" "$tmp/"
	# --ignore-scripts: nothing in the tree needs an install script, and none runs.
	(cd "$tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2
	touch "$tmp/.installed"
	if ! mv -T "$tmp" "$out" 2>/dev/null; then
		# Another install finished first (mv -T does not replace a full folder).
		[ -f "$out/.installed" ] || { echo "install.sh: cannot move $tmp to $out" >&2; exit 1; }
	fi
	trap - EXIT INT TERM
	rm -rf "$tmp"
	echo "install.sh: installed in $(($(date +%s) - start))s" >&2
fi
echo "$out"
