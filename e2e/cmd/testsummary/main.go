// Command testsummary reads `go test -json` on stdin and prints what a plain `go test`
// prints (each package's ok or FAIL line, the output of failing tests, build errors),
// then appends one line of counts to -counts: how many tests passed, failed and were
// skipped. With -total it prints the sum of the lines in that file instead, which is
// how `make test` ends.
//
//	go test -json ./... | go run ./cmd/testsummary -name unit -counts /tmp/counts
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
	flag.Parse()
	if *total {
		os.Exit(printTotal(*file))
	}
	c, err := summarize(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testsummary: %v\n", err)
		os.Exit(1)
	}
	line := fmt.Sprintf("%s\t%d\t%d\t%d\n", *name, c.pass, c.fail, c.skip)
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
func summarize(r io.Reader, w io.Writer) (counts, error) {
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
	fmt.Println("== test counts (a subtest counts as a test)")
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var name string
		var c counts
		if _, err := fmt.Sscanf(line, "%s\t%d\t%d\t%d", &name, &c.pass, &c.fail, &c.skip); err != nil {
			continue
		}
		fmt.Printf("  %-12s %6d passed %4d failed %4d skipped\n", name, c.pass, c.fail, c.skip)
		all.pass, all.fail, all.skip = all.pass+c.pass, all.fail+c.fail, all.skip+c.skip
	}
	fmt.Printf("  %-12s %6d passed %4d failed %4d skipped\n", "total", all.pass, all.fail, all.skip)
	return 0
}
