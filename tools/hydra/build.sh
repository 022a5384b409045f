#!/bin/sh
# Prints the path of an Ory Hydra binary of the version pinned in this folder's go.mod,
# building it first when it is missing: the second OpenID provider of the end-to-end
# tests (tools/build-lib.sh: in the Go build cache, never in the repository). Hydra
# keeps its data in SQLite (DSN "memory"), which needs cgo and the sqlite build tag.
# Build progress goes to stderr; only the path to stdout.
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
. "$dir/../build-lib.sh"
tool_setup hydra github.com/ory/hydra/v2
if [ ! -x "$bin" ]; then
	export CGO_ENABLED=1
	tool_build "Ory Hydra $version" "several minutes the first time" \
		-tags sqlite,sqlite_omit_load_extension \
		-ldflags "-X github.com/ory/hydra/v2/driver/config.Version=$version" \
		github.com/ory/hydra/v2
fi
echo "$bin"
