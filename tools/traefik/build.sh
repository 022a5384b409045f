#!/bin/sh
# Prints the path of a Traefik binary of the version pinned in this folder's go.mod,
# building it first when it is missing (tools/build-lib.sh: in the Go build cache,
# never in the repository). Build progress goes to stderr; only the path to stdout.
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
. "$dir/../build-lib.sh"
tool_setup traefik github.com/traefik/traefik/v3
if [ ! -x "$bin" ]; then
	tool_build "Traefik $version" "several minutes the first time" \
		-ldflags "-X github.com/traefik/traefik/v3/pkg/version.Version=$version" \
		github.com/traefik/traefik/v3/cmd/traefik
fi
echo "$bin"
