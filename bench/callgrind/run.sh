#!/bin/sh
# Counts the instructions one request costs on each hot-path row of bench/hotpath,
# with valgrind's callgrind: the same count run after run (within about 1%),
# whatever else the machine is doing, unlike CPU time on a shared 2-core machine.
# Each row runs twice in a process of its own (N1 and N2 requests) and the
# difference is divided by N2 - N1, so that start-up and sign-in drop out; the
# garbage collector's share stays in. GOMAXPROCS=1 keeps idle scheduler threads
# from adding instructions, and asyncpreemptoff keeps valgrind from tripping on
# Go's preemption signals.
#
#   bench/callgrind/run.sh [plugin folder]     (default: the repository root)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
plugin=$(cd "${1:-$here/..}" && pwd)
N1=${N1:-2000}
N2=${N2:-22000}
command -v valgrind >/dev/null || { echo "callgrind: valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
bin=$(mktemp -d)/hotpath
trap 'rm -rf "$(dirname "$bin")"' EXIT
(cd "$here" && go build -o "$bin" ./hotpath)

count() { # row requests
	GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
		"$bin" -key "$here/../testdata/provider_rsa.pem" -plugin "$plugin" -empty "$here/emptyplugin" \
		-only "$1" -n "$2" 2>&1 | awk '/Collected/ {print $4}'
}
perrequest() {
	a=$(count "$1" "$N1")
	b=$(count "$1" "$N2")
	echo $(((b - a) / (N2 - N1)))
}

# Two rows at a time: callgrind runs a process on one core, and counts the same.
tmp=$(dirname "$bin")
perrequest "bare, no middleware" >"$tmp/bare" &
perrequest "empty plugin, cookies, yaegi" >"$tmp/empty"
wait
perrequest "ags open path, other cookies, yaegi" >"$tmp/open" &
perrequest "ags signed in, yaegi" >"$tmp/signed"
wait
bare=$(cat "$tmp/bare") empty=$(cat "$tmp/empty") open=$(cat "$tmp/open") signed=$(cat "$tmp/signed")
printf '%-40s %12s %16s\n' "row (plugin: $plugin)" "instr/request" "above the empty plugin"
printf '%-40s %12d\n' "bare, no middleware" "$bare"
printf '%-40s %12d %16s\n' "empty plugin" "$empty" "(floor: +$((empty - bare)) over bare)"
printf '%-40s %12d %16d\n' "ags open path (other cookies)" "$open" "$((open - empty))"
printf '%-40s %12d %16d\n' "ags signed in" "$signed" "$((signed - empty))"
