#!/bin/sh
# Counts the instructions one request costs on each hot-path row of bench/hotpath,
# with valgrind's callgrind: the same count run after run (within about 1%),
# whatever else the machine is doing, unlike CPU time on a shared 2-core machine.
# Each row runs twice in a process of its own (N1 and N2 requests) and the
# difference is divided by N2 - N1, so that start-up and sign-in drop out; the
# garbage collector's share stays in (count.sh says how valgrind is run). A run
# that does not finish, or prints no count, stops the script with its output.
#
# ROWS picks groups of rows beside the base ones (bare, the empty plugin, the open
# path, signed in), which always run: miss (a new Cookie header, a new session),
# bearer (issue 27: a known and a new access token, and their floor), options (signed
# in with sessionIdleTimeout, issue 26, and with revocation on, issue 28). All by
# default: 24 minutes at a load average of 15 on the 2-core machine, a third of it
# each for the new-session and the new-token rows.
#
#   bench/callgrind/run.sh [plugin folder]     (default: the repository root)
#   ROWS='bearer options' bench/callgrind/run.sh
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
plugin=$(cd "${1:-$here/..}" && pwd)
N1=${N1:-2000}
N2=${N2:-22000}
ROWS=${ROWS:-miss bearer options}
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
# start OUT ROW [N1 N2 [COLLECT]] counts ROW into $tmp/OUT in the background; every
# second call waits for the two, as does finish.
running=""
start() {
	(
		[ -z "${5:-}" ] || export COLLECT="$5"
		perrequest "$2" "${3:-}" "${4:-}" >"$tmp/$1"
	) &
	running="$running $!"
	set -- $running
	[ $# -lt 2 ] || finish
}
finish() {
	failed=0
	for p in $running; do
		wait "$p" || failed=1
	done
	running=""
	[ $failed = 0 ] || exit 1
}
want() { case " $ROWS " in *" $1 "*) return 0 ;; esac; return 1; }

start bare "bare, no middleware"
start empty "empty plugin, cookies, yaegi"
start open "ags open path, other cookies, yaegi"
start signed "ags signed in, yaegi"
if want miss; then
	# A cache miss costs several times a hit: fewer requests. A new session's row
	# signs in once per request before the requests: only what runOne does (the
	# requests) counts, and of the collector only what it does within them.
	start miss "ags cache miss, yaegi" 200 2200
	start fresh "ags new session, yaegi" 200 1200 main.runOne
fi
if want bearer; then
	# A bearer token's floor is the empty plugin on the same request (an
	# Authorization header, no Cookie header). A new token's row signs its tokens
	# before the requests, as the new session's row signs in.
	start emptybearer "empty plugin, bearer, yaegi"
	start bearerhit "ags bearer token hit, yaegi"
	start bearermiss "ags bearer token miss, yaegi" 100 700 main.runOne
fi
if want options; then
	start idle "ags signed in, idle timeout on, yaegi"
	start revocation "ags signed in, revocation on, yaegi"
fi
finish
v() { cat "$tmp/$1"; }
bare=$(v bare) empty=$(v empty) signed=$(v signed)
printf '%-44s %12s %16s\n' "row (plugin: $plugin)" "instr/request" "above the empty plugin"
printf '%-44s %12d\n' "bare, no middleware" "$bare"
printf '%-44s %12d %16s\n' "empty plugin" "$empty" "(floor: +$((empty - bare)) over bare)"
printf '%-44s %12d %16d\n' "ags open path (other cookies)" "$(v open)" "$(($(v open) - empty))"
printf '%-44s %12d %16d\n' "ags signed in" "$signed" "$((signed - empty))"
if want miss; then
	printf '%-44s %12d %16d\n' "ags cache miss (new Cookie header)" "$(v miss)" "$(($(v miss) - empty))"
	printf '%-44s %12d %16d\n' "ags new session (not opened before)" "$(v fresh)" "$(($(v fresh) - empty))"
fi
if want bearer; then
	eb=$(v emptybearer)
	printf '%-44s %12d %16s\n' "empty plugin, bearer request" "$eb" "(floor of the two rows below)"
	printf '%-44s %12d %16d\n' "ags bearer token hit (known token)" "$(v bearerhit)" "$(($(v bearerhit) - eb))"
	printf '%-44s %12d %16d\n' "ags bearer token miss (new token)" "$(v bearermiss)" "$(($(v bearermiss) - eb))"
	printf '  the known token above its floor, over the signed-in session above its: %s (issue 27: at most 1.5)\n' \
		"$(awk "BEGIN { printf \"%.2f\", ($(v bearerhit) - $eb) / ($signed - $empty) }")"
fi
if want options; then
	printf '%-44s %12d %16d\n' "ags signed in, sessionIdleTimeout 8h" "$(v idle)" "$(($(v idle) - empty))"
	printf '%-44s %12d %16d\n' "ags signed in, revocation on (none revoked)" "$(v revocation)" "$(($(v revocation) - empty))"
fi
