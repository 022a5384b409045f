# Sourced by run.sh and steps.sh: instructions LOG WHAT COMMAND... runs COMMAND under
# valgrind's callgrind with its output in LOG and prints the instructions it counted;
# a run that fails, or prints no count, returns 1 with LOG's tail on stderr, naming
# WHAT. GOMAXPROCS=1 keeps idle scheduler threads from adding instructions,
# asyncpreemptoff keeps valgrind from tripping on Go's preemption signals, and
# cpu.rdtscp=off keeps Go's runtime on RDTSC: valgrind 3.19 cannot decode RDTSCP
# ("unhandled instruction bytes: 0xF 0x1 0xF9"), which Go uses where the processor
# has it (AMD EPYC), and the program then dies under valgrind. COLLECT, when set,
# names the one function whose instructions (and its callees') are counted
# (callgrind's --toggle-collect): the rest of the run, such as signing in, is not.
instructions() {
	log=$1 what=$2
	shift 2
	if ! GOMAXPROCS=1 GOGC=${GOGC:-100} GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off valgrind --tool=callgrind \
		${COLLECT:+--toggle-collect=$COLLECT} --callgrind-out-file=/dev/null --error-exitcode=3 "$@" >"$log" 2>&1; then
		echo "callgrind: the run of $what failed:" >&2
		tail -20 "$log" >&2
		return 1
	fi
	n=$(awk '/Collected/ {print $4}' "$log")
	case "$n" in
	'' | *[!0-9]*)
		echo "callgrind: the run of $what printed no instruction count:" >&2
		tail -20 "$log" >&2
		return 1
		;;
	esac
	echo "$n"
}
