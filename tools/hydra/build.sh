#!/bin/sh
# Prints the path of an Ory Hydra binary of the version pinned in this folder's go.mod,
# building it first when it is missing: the second OpenID provider of the end-to-end
# tests. The binary lives in the Go build cache ($(go env GOCACHE)/ags-hydra/<version>/hydra),
# never in the repository, so a second call is instant. Hydra keeps its data in SQLite
# (DSN "memory"), which needs cgo and the sqlite build tag. Build progress goes to
# stderr; only the path goes to stdout.
set -eu

dir=$(cd "$(dirname "$0")" && pwd)
version=$(awk '$1 == "github.com/ory/hydra/v2" { print $2; exit }' "$dir/go.mod")
if [ -z "$version" ]; then
	echo "build.sh: no github.com/ory/hydra/v2 line in $dir/go.mod" >&2
	exit 1
fi
out="$(go env GOCACHE)/ags-hydra/$version"
bin="$out/hydra"

if [ ! -x "$bin" ]; then
	mkdir -p "$out"
	tmp="$out/hydra.tmp.$$"
	trap 'rm -f "$tmp"' EXIT INT TERM
	echo "build.sh: building Ory Hydra $version into $bin (several minutes the first time)" >&2
	start=$(date +%s)
	(cd "$dir" && CGO_ENABLED=1 go build -tags sqlite,sqlite_omit_load_extension \
		-ldflags "-X github.com/ory/hydra/v2/driver/config.Version=$version" \
		-o "$tmp" github.com/ory/hydra/v2)
	# rename is atomic: a concurrent caller sees either no file or a whole binary
	mv -f "$tmp" "$bin"
	trap - EXIT INT TERM
	echo "build.sh: built in $(($(date +%s) - start))s" >&2
fi
echo "$bin"
