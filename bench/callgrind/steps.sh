#!/bin/sh
# Counts the instructions of each step of a cache miss under Yaegi: the unit
# benchmarks BenchmarkCacheMiss* (cookie_bench_test.go) run by `yaegi test` under
# valgrind's callgrind, each at N1 and N2 iterations in a process of its own; the
# difference over N2 - N1 drops Yaegi's start-up (parsing the package and its
# tests). The collector is off (GOGC=off, unless GOGC is set): with it on, when it runs
# decides more than the step does (a small step counted anywhere from -30,000 to
# 68,000 in three runs); off, counts repeat within 1-2%. So these are the
# interpreter's instructions without the collection of what they allocate, which on
# the whole miss adds about as much again (bench/README.md). A run that fails or
# prints no count stops the script with its output.
#
#   bench/callgrind/steps.sh [benchmark ...]    (default: all BenchmarkCacheMiss*)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
N1=${N1:-100}
N2=${N2:-2100}
GOGC=${GOGC:-off}
export GOGC
command -v valgrind >/dev/null || { echo "steps: valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
yaegi=$(go env GOPATH)/bin/yaegi
[ -x "$yaegi" ] || { echo "steps: $yaegi is missing (make yaegi-test installs it)" >&2; exit 1; }
benchmarks=${*:-$(grep -ho '^func BenchmarkCacheMiss[A-Za-z]*' "$root"/*_test.go | sed 's/^func //')}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$root/bench/callgrind/count.sh"
count() { # benchmark iterations
	log="$tmp/$1-$2.log"
	n=$(cd "$root" && instructions "$log" "$1 ($2 iterations)" "$yaegi" test -run XXX -bench "^$1\$" -benchtime "${2}x" .) || return 1
	if ! grep -q "^$1" "$log"; then
		echo "steps: $1 ($2 iterations) did not run:" >&2
		tail -20 "$log" >&2
		return 1
	fi
	echo "$n"
}
printf '%-40s %14s\n' "benchmark (under Yaegi)" "instr/op"
for b in $benchmarks; do
	a=$(count "$b" "$N1") || exit 1
	c=$(count "$b" "$N2") || exit 1
	printf '%-40s %14d\n' "$b" $(((c - a) / (N2 - N1)))
done
