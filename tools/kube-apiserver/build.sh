#!/bin/sh
# Prints the path of a kube-apiserver binary of the version pinned in this folder's
# go.mod, building it first when it is missing (about 860 CPU-seconds and 1.8 GB of
# memory; tools/build-lib.sh: in the Go build cache, never in the repository). Build
# progress goes to stderr; only the path to stdout.
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
. "$dir/../build-lib.sh"
tool_setup kube-apiserver k8s.io/kubernetes
if [ ! -x "$bin" ]; then
	major=$(echo "$version" | cut -d. -f1 | tr -d v)
	minor=$(echo "$version" | cut -d. -f2)
	# Without the version variables the server reports v0.0.0-master, which clients
	# (Traefik's among them) cannot parse.
	pkg=k8s.io/component-base/version
	# -N -l: compiled without optimisation or inlining, which takes 5m25s on 2 cores
	# from an empty cache where the optimised build took 7m24s with its shared
	# dependencies already compiled (issue 29: the first run). The tests ask little
	# of the API server: TestKubernetes took 16.7 s with it, 14.5 s optimised.
	tool_build "kube-apiserver $version" "about 10 minutes of CPU the first time" -trimpath \
		-gcflags "all=-N -l" \
		-ldflags "-s -w -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z" \
		k8s.io/kubernetes/cmd/kube-apiserver
fi
echo "$bin"
