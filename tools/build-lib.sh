# Sourced by tools/NAME/build.sh: what building a tool for the tests shares. The
# caller sets dir (its folder, with the go.mod that pins the version), then:
#   tool_setup NAME MODULE   sets version (MODULE's in dir/go.mod), out and bin:
#                            $(go env GOCACHE)/ags-NAME/<version>/NAME, outside the
#                            repository, so a second call is instant;
#   tool_build WHAT NOTE ARGS...
#                            builds bin with `go build -v -o <tmp> ARGS...` in dir
#                            when it is missing: progress on stderr (a line every
#                            200 packages compiled), errors passed through, the
#                            binary renamed into place at the end (atomic: a caller
#                            at the same time sees no file or a whole binary);
# and prints "$bin", the only line on stdout. With TOOL_FETCH=1, tool_build only
# downloads the modules the build needs and exits (make fetch).
tool_setup() { # name module
	name=$1
	version=$(awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$dir/go.mod")
	if [ -z "$version" ]; then
		echo "build.sh: no $2 line in $dir/go.mod" >&2
		exit 1
	fi
	out="$(go env GOCACHE)/ags-$name/$version"
	bin="$out/$name"
}

tool_build() { # what note go-build-arguments...
	what=$1 note=$2
	shift 2
	# TOOL_FETCH=1: only download the modules that the build needs (go list -deps
	# of the same arguments), as make test's fetch does beside its unit stages.
	if [ -n "${TOOL_FETCH:-}" ]; then
		(cd "$dir" && go list -deps "$@" >/dev/null)
		exit $?
	fi
	mkdir -p "$out"
	tmp="$out/$name.tmp.$$"
	status="$out/status.$$"
	trap 'rm -f "$tmp" "$status"' EXIT INT TERM
	echo "build.sh: building $what into $bin ($note)" >&2
	start=$(date +%s)
	# -v names each package compiled: count them on screen, pass the rest (errors)
	# through; the build's status comes back through a file (sh has no pipefail).
	{
		set +e # the status goes to the file
		(cd "$dir" && go build -v -o "$tmp" "$@") 2>&1
		echo $? >"$status"
	} | awk -v what="$what" '
		/^[^ \t:]+$/ { n++; if (n % 200 == 0) { printf "build.sh: %s: %d packages compiled\n", what, n > "/dev/stderr"; fflush("/dev/stderr") } next }
		{ print > "/dev/stderr" }'
	rc=$(cat "$status")
	rm -f "$status"
	[ "$rc" = 0 ] || exit "$rc"
	mv -f "$tmp" "$bin"
	trap - EXIT INT TERM
	echo "build.sh: built in $(($(date +%s) - start))s" >&2
}
