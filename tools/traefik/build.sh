#!/bin/sh
# Prints the path of a Traefik binary of the version pinned in this folder's go.mod,
# building it first when it is missing. The binary lives in the Go build cache
# ($(go env GOCACHE)/ags-traefik/<version>/traefik), never in the repository, so a
# second call is instant. Build progress goes to stderr; only the path goes to stdout.
set -eu

dir=$(cd "$(dirname "$0")" && pwd)
version=$(awk '$1 == "github.com/traefik/traefik/v3" { print $2; exit }' "$dir/go.mod")
if [ -z "$version" ]; then
	echo "build.sh: no github.com/traefik/traefik/v3 line in $dir/go.mod" >&2
	exit 1
fi
out="$(go env GOCACHE)/ags-traefik/$version"
bin="$out/traefik"

if [ ! -x "$bin" ]; then
	mkdir -p "$out"
	tmp="$out/traefik.tmp.$$"
	trap 'rm -f "$tmp" "$out/status.$$"' EXIT INT TERM
	echo "build.sh: building Traefik $version into $bin (several minutes the first time)" >&2
	start=$(date +%s)
	# -v names each package compiled: count them on screen every 200, pass the rest
	# (errors) through; the build's status comes back through a file (sh has no pipefail).
	status="$out/status.$$"
	{
		set +e # the status goes to the file
		(cd "$dir" && go build -v \
			-ldflags "-X github.com/traefik/traefik/v3/pkg/version.Version=$version" \
			-o "$tmp" github.com/traefik/traefik/v3/cmd/traefik) 2>&1
		echo $? >"$status"
	} | awk -v what="Traefik $version" '
		/^[^ \t:]+$/ { n++; if (n % 200 == 0) { printf "build.sh: %s: %d packages compiled\n", what, n > "/dev/stderr"; fflush("/dev/stderr") } next }
		{ print > "/dev/stderr" }'
	rc=$(cat "$status")
	rm -f "$status"
	[ "$rc" = 0 ] || exit "$rc"
	# rename is atomic: a concurrent caller sees either no file or a whole binary
	mv -f "$tmp" "$bin"
	trap - EXIT INT TERM
	echo "build.sh: built in $(($(date +%s) - start))s" >&2
fi
echo "$bin"
