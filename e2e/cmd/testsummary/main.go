// Command testsummary reads `go test -json` on stdin and prints what a plain `go test`
// prints (each package's ok or FAIL line, the output of failing tests, build errors),
// then appends one line of counts to -counts: how many tests passed, failed and were
// skipped. With -total it prints the sum of the lines in that file instead, which is
// how `make test` ends: its last line is "N passed, N failed, N skipped". With -stage
// it runs a command as one stage of `make test` (stage.go): quiet unless it fails.
// Stages may run at the same time: a counts line names the stage it was made in
// ($TESTSUMMARY_STAGE, which -stage sets), and -begin marks when make test began, so
// that the total's wall time is the run's, not the sum of its stages.
//
//	testsummary -begin -counts /tmp/counts
//	go test -json ./... | go run ./cmd/testsummary -name unit -counts /tmp/counts
//	testsummary -counts /tmp/counts -stage e2e -- make e2e
//	go run ./cmd/testsummary -total -counts /tmp/counts
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// event is one line of go test -json (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// counts are the tests of one run; a subtest counts as a test.
type counts struct{ pass, fail, skip int }

func main() {
	name := flag.String("name", "tests", "what the run is called in the counts")
	file := flag.String("counts", "", "file the counts line is appended to (and read from with -total)")
	total := flag.Bool("total", false, "print the sum of the counts in -counts and exit")
	stage := flag.String("stage", "", "run the command after -- as this stage of make test")
	verbose := flag.Bool("v", false, "print everything: each test's output, each stage's output as it comes")
	background := flag.Bool("background", false, "with -stage: the stage runs beside the next ones")
	begin := flag.Bool("begin", false, "record in -counts that make test begins now (the total's wall time runs from here)")
	flag.Parse()
	if *begin {
		appendLine(*file, fmt.Sprintf("begin\t%d\n", time.Now().UnixMilli()))
		return
	}
	if *total {
		os.Exit(printTotal(*file))
	}
	if *stage != "" {
		os.Exit(runStage(*stage, *file, *verbose, *background, flag.Args()))
	}
	c, err := summarize(os.Stdin, os.Stdout, *verbose)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testsummary: %v\n", err)
		os.Exit(1)
	}
	// The fifth field is the stage this run belongs to (stageCounts).
	line := fmt.Sprintf("%s\t%d\t%d\t%d\t%s\n", *name, c.pass, c.fail, c.skip, os.Getenv(stageEnv))
	fmt.Printf("%s: %d tests passed, %d failed, %d skipped\n", *name, c.pass, c.fail, c.skip)
	if *file != "" {
		f, err := os.OpenFile(*file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err == nil {
			_, err = f.WriteString(line)
			f.Close()
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "testsummary: %v\n", err)
			os.Exit(1)
		}
	}
	if c.fail > 0 {
		os.Exit(1)
	}
}

// summarize prints package lines and failing tests' output as they come.
// With verbose, every line of output is printed as it comes.
func summarize(r io.Reader, w io.Writer, verbose bool) (counts, error) {
	var c counts
	output := map[string][]string{} // package + test -> its output so far
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			fmt.Fprintln(w, sc.Text()) // not JSON: say it as it is
			continue
		}
		key := ev.Package + " " + ev.Test
		if verbose && (ev.Action == "output" || ev.Action == "build-output") {
			fmt.Fprint(w, ev.Output)
			continue
		}
		switch {
		case ev.Action == "build-output":
			fmt.Fprint(w, ev.Output)
		case ev.Action == "output" && ev.Test == "":
			// Package lines: "ok ...", "FAIL ...", "--- FAIL" summaries; not "PASS".
			if ev.Output != "PASS\n" && !strings.HasPrefix(ev.Output, "=== ") {
				fmt.Fprint(w, ev.Output)
			}
		case ev.Action == "output":
			output[key] = append(output[key], ev.Output)
		case ev.Action == "pass" && ev.Test != "":
			c.pass++
			delete(output, key)
		case ev.Action == "skip" && ev.Test != "":
			c.skip++
			delete(output, key)
		case ev.Action == "fail" && ev.Test != "":
			c.fail++
			// A parent fails with its subtest: print each failing test's own output.
			fmt.Fprint(w, strings.Join(output[key], ""))
			delete(output, key)
		}
	}
	return c, sc.Err()
}

func printTotal(file string) int {
	data, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testsummary: %v\n", err)
		return 1
	}
	var all counts
	var took time.Duration
	var began int64
	var beside []string
	fmt.Println("== test counts (a subtest counts as a test)")
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var name string
		var c counts
		var seconds float64
		if _, err := fmt.Sscanf(line, "begin\t%d", &began); err == nil {
			continue
		}
		if _, err := fmt.Sscanf(line, "stage\t%s\t%g", &name, &seconds); err == nil {
			took += time.Duration(seconds * float64(time.Second))
			continue
		}
		if _, err := fmt.Sscanf(line, "background\t%s\t%g", &name, &seconds); err == nil {
			beside = append(beside, fmt.Sprintf("  %-12s %s, beside the stages after it", name,
				time.Duration(seconds*float64(time.Second)).Round(time.Second)))
			continue
		}
		if _, err := fmt.Sscanf(line, "%s\t%d\t%d\t%d", &name, &c.pass, &c.fail, &c.skip); err != nil {
			continue
		}
		fmt.Printf("  %-12s %6d passed %4d failed %4d skipped\n", name, c.pass, c.fail, c.skip)
		all.pass, all.fail, all.skip = all.pass+c.pass, all.fail+c.fail, all.skip+c.skip
	}
	for _, l := range beside {
		fmt.Println(l)
	}
	// The wall time is the run's, from -begin, when make test marked it: stages
	// that ran at the same time would count twice in the sum.
	if began > 0 {
		took = time.Since(time.UnixMilli(began))
	}
	if took > 0 {
		fmt.Printf("  %-12s %s\n", "wall time", took.Round(time.Second))
	}
	// The closing line, alone, in the form CI reads.
	fmt.Printf("%d passed, %d failed, %d skipped\n", all.pass, all.fail, all.skip)
	return 0
}
