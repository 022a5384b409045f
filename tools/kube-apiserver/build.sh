#!/bin/sh
# Prints the path of a kube-apiserver binary of the version pinned in this folder's
# go.mod, building it first when it is missing (about 860 CPU-seconds and 1.8 GB of
# memory). The binary lives in the Go build cache
# ($(go env GOCACHE)/ags-kube-apiserver/<version>/kube-apiserver), never in the
# repository, so a second call is instant. Build progress goes to stderr; only the
# path goes to stdout.
set -eu

dir=$(cd "$(dirname "$0")" && pwd)
version=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ { print $2; exit }' "$dir/go.mod")
if [ -z "$version" ]; then
	echo "build.sh: no k8s.io/kubernetes line in $dir/go.mod" >&2
	exit 1
fi
out="$(go env GOCACHE)/ags-kube-apiserver/$version"
bin="$out/kube-apiserver"

if [ ! -x "$bin" ]; then
	mkdir -p "$out"
	tmp="$out/kube-apiserver.tmp.$$"
	trap 'rm -f "$tmp" "$out/status.$$"' EXIT INT TERM
	echo "build.sh: building kube-apiserver $version into $bin (about 15 minutes of CPU the first time)" >&2
	start=$(date +%s)
	major=$(echo "$version" | cut -d. -f1 | tr -d v)
	minor=$(echo "$version" | cut -d. -f2)
	# Without the version variables the server reports v0.0.0-master, which clients
	# (Traefik's among them) cannot parse.
	pkg=k8s.io/component-base/version
	# -v names each package compiled: count them on screen every 200, pass the rest
	# (errors) through; the build's status comes back through a file (sh has no pipefail).
	status="$out/status.$$"
	{
		set +e # the status goes to the file
		(cd "$dir" && go build -v -trimpath \
			-ldflags "-s -w -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z" \
			-o "$tmp" k8s.io/kubernetes/cmd/kube-apiserver) 2>&1
		echo $? >"$status"
	} | awk -v what="kube-apiserver $version" '
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
