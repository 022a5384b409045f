#!/bin/sh
# Counts the instructions one request costs on each hot-path row of bench/hotpath,
# with valgrind's callgrind: the same count run after run (within about 1%),
# whatever else the machine is doing, unlike CPU time on a shared 2-core machine.
# Each row runs twice in a process of its own (N1 and N2 requests) and the
# difference is divided by N2 - N1, so that start-up and sign-in drop out; the
# garbage collector's share stays in (count.sh says how valgrind is run). A run
# that does not finish, or prints no count, stops the script with its output.
#
#   bench/callgrind/run.sh [plugin folder]     (default: the repository root)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
plugin=$(cd "${1:-$here/..}" && pwd)
N1=${N1:-2000}
N2=${N2:-22000}
command -v valgrind >/dev/null || { echo "callgrind: valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
tmp=$(mktemp -d)
bin=$tmp/hotpath
trap 'rm -rf "$tmp"' EXIT
(cd "$here" && go build -o "$bin" ./hotpath)

. "$here/callgrind/count.sh"
count() { # row requests
	instructions "$tmp/$(echo "$1" | tr -c 'a-z0-9' _)-$2.log" "\"$1\" ($2 requests)" \
		"$bin" -key "$here/../testdata/provider_rsa.pem" -plugin "$plugin" -empty "$here/emptyplugin" \
		-only "$1" -n "$2"
}
perrequest() { # row [N1 N2]
	n1=${2:-$N1} n2=${3:-$N2}
	a=$(count "$1" "$n1") || return 1
	b=$(count "$1" "$n2") || return 1
	if [ "$b" -le "$a" ]; then
		echo "callgrind: \"$1\": $n2 requests counted $b instructions, not more than $n1 requests ($a)" >&2
		return 1
	fi
	echo $(((b - a) / (n2 - n1)))
}

# Two rows at a time: callgrind runs a process on one core, and counts the same.
perrequest "bare, no middleware" >"$tmp/bare" & p1=$!
perrequest "empty plugin, cookies, yaegi" >"$tmp/empty" & p2=$!
wait $p1 && wait $p2 || exit 1
perrequest "ags open path, other cookies, yaegi" >"$tmp/open" & p1=$!
perrequest "ags signed in, yaegi" >"$tmp/signed" & p2=$!
wait $p1 && wait $p2 || exit 1
# A cache miss costs several times a hit: fewer requests. A new session's row signs
# in once per request before the requests: only what runOne does (the requests)
# counts, and of the collector only what it does within them.
perrequest "ags cache miss, yaegi" 200 2200 >"$tmp/miss" & p1=$!
COLLECT=main.runOne perrequest "ags new session, yaegi" 200 1200 >"$tmp/fresh" & p2=$!
wait $p1 && wait $p2 || exit 1
bare=$(cat "$tmp/bare") empty=$(cat "$tmp/empty") open=$(cat "$tmp/open") signed=$(cat "$tmp/signed") miss=$(cat "$tmp/miss") fresh=$(cat "$tmp/fresh")
printf '%-40s %12s %16s\n' "row (plugin: $plugin)" "instr/request" "above the empty plugin"
printf '%-40s %12d\n' "bare, no middleware" "$bare"
printf '%-40s %12d %16s\n' "empty plugin" "$empty" "(floor: +$((empty - bare)) over bare)"
printf '%-40s %12d %16d\n' "ags open path (other cookies)" "$open" "$((open - empty))"
printf '%-40s %12d %16d\n' "ags signed in" "$signed" "$((signed - empty))"
printf '%-40s %12d %16d\n' "ags cache miss (new Cookie header)" "$miss" "$((miss - empty))"
printf '%-40s %12d %16d\n' "ags new session (not opened before)" "$fresh" "$((fresh - empty))"
