package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// failureLines is how much of a failed stage's output is printed: the end, where
// the failing tests' output and the log tails of the processes they started are.
const failureLines = 400

// runStage runs args as one stage of `make test`, its output (stdout and stderr)
// kept in counts-NAME.log: quiet on success, one line with the counts its go test
// runs appended to the counts file and its wall time; on failure the end of its
// output. With verbose the output is printed as it comes too. It returns the
// command's exit status, and records the stage's wall time. A background stage runs
// beside the next ones (make test's fetch, yaegi, bench-smoke): the Makefile keeps
// its line until it waits for it. The counts are those of the go test runs the
// command made, which name the stage ($TESTSUMMARY_STAGE): another stage may append
// its own meanwhile.
func runStage(name, countsFile string, verbose, background bool, args []string) int {
	if len(args) == 0 || countsFile == "" {
		fmt.Fprintln(os.Stderr, "testsummary: -stage needs -counts and a command after --")
		return 2
	}
	logPath := countsFile + "-" + name + ".log"
	logFile, err := os.Create(logPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testsummary: %v\n", err)
		return 2
	}
	defer logFile.Close()
	var out io.Writer = logFile
	if verbose {
		out = io.MultiWriter(logFile, os.Stdout)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), stageEnv+"="+name)
	cmd.Stdout, cmd.Stderr = out, out
	began := time.Now()
	runErr := cmd.Run()
	took := time.Since(began)
	status := 0
	var exit *exec.ExitError
	switch {
	case errors.As(runErr, &exit):
		status = exit.ExitCode()
	case runErr != nil:
		fmt.Fprintf(logFile, "testsummary: %v\n", runErr)
		status = 2
	}
	c, tests := stageCounts(countsFile, name)
	kind := "stage"
	if background {
		kind = "background"
	}
	appendLine(countsFile, fmt.Sprintf("%s\t%s\t%.1f\n", kind, name, took.Seconds()))
	if status != 0 && !verbose {
		printTail(logPath, failureLines)
	}
	word := "ok"
	if status != 0 {
		word = fmt.Sprintf("FAILED (exit status %d; whole output in %s)", status, logPath)
	}
	counted := fmt.Sprintf(": %d passed, %d failed, %d skipped,", c.pass, c.fail, c.skip)
	if !tests {
		counted = ","
	}
	where := ""
	if background {
		where = ", beside the stages after it"
	}
	fmt.Printf("%-12s %s%s in %s%s\n", name, word, counted, took.Round(time.Second), where)
	return status
}

// stageEnv names the stage that a counts line was made in: -stage sets it for its
// command, and the go test runs inside append it to their line.
const stageEnv = "TESTSUMMARY_STAGE"

// stageCounts sums the counts lines that stage's go test runs appended, and says
// whether there was any (a stage that runs no go test has none).
func stageCounts(file, stage string) (counts, bool) {
	var all counts
	any := false
	data, _ := os.ReadFile(file)
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 5 || f[4] != stage {
			continue
		}
		var c counts
		if _, err := fmt.Sscanf(strings.Join(f[1:4], " "), "%d %d %d", &c.pass, &c.fail, &c.skip); err == nil {
			all.pass, all.fail, all.skip = all.pass+c.pass, all.fail+c.fail, all.skip+c.skip
			any = true
		}
	}
	return all, any
}

func appendLine(file, line string) {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testsummary: %v\n", err)
		return
	}
	f.WriteString(line)
	f.Close()
}

// printTail prints the last n lines of the file.
func printTail(path string, n int) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	total := 0
	for sc.Scan() {
		total++
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	if total > n {
		fmt.Printf("... (%d earlier lines in %s)\n", total-n, path)
	}
	for _, l := range lines {
		fmt.Println(l)
	}
}
