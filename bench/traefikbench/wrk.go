package main

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what one wrk run printed.
type wrkResult struct {
	requests  int64
	seconds   float64 // the run's length as wrk measured it
	rps       float64
	p50, p99  time.Duration
	non2xx3xx int64
	// socket errors
	connectErrs, readErrs, writeErrs, timeouts int64
}

// wrkLoad is what wrk sends: fixed headers (-H), or a Lua script whose request
// function makes every request (wrk then ignores -H), with its arguments.
type wrkLoad struct {
	url        string
	headers    []string
	script     string
	scriptArgs []string
}

// runWrk runs wrk --latency with load and parses its report.
func runWrk(ctx context.Context, wrk string, threads, conns int, d time.Duration, load wrkLoad) (wrkResult, error) {
	res, _, err := runWrkOutput(ctx, wrk, threads, conns, d, load)
	return res, err
}

// runWrkOutput is runWrk that also returns wrk's output (what a script printed).
func runWrkOutput(ctx context.Context, wrk string, threads, conns int, d time.Duration, load wrkLoad) (wrkResult, string, error) {
	args := []string{"-t" + strconv.Itoa(threads), "-c" + strconv.Itoa(conns),
		"-d" + strconv.Itoa(int(d/time.Second)) + "s", "--latency"}
	for _, h := range load.headers {
		args = append(args, "-H", h)
	}
	if load.script != "" {
		args = append(args, "-s", load.script)
	}
	args = append(args, load.url)
	if len(load.scriptArgs) > 0 {
		args = append(args, "--")
		args = append(args, load.scriptArgs...)
	}
	out, err := exec.CommandContext(ctx, wrk, args...).CombinedOutput()
	if err != nil {
		return wrkResult{}, string(out), fmt.Errorf("wrk: %w\n%s", err, out)
	}
	res, err := parseWrk(string(out))
	if err != nil {
		return res, string(out), fmt.Errorf("wrk's output: %w\n%s", err, out)
	}
	return res, string(out), nil
}

// parseWrk reads wrk 4's report:
//
//	  Latency Distribution
//	     50%  289.00us
//	     99%    1.23ms
//	  123456 requests in 5.00s, 14.90MB read
//	  Socket errors: connect 0, read 0, write 0, timeout 0
//	  Non-2xx or 3xx responses: 12
//	Requests/sec:  24690.12
func parseWrk(out string) (wrkResult, error) {
	var res wrkResult
	var haveCount, haveRPS, have50, have99 bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		f := strings.Fields(line)
		var err error
		switch {
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%"):
			var d time.Duration
			if d, err = parseWrkDuration(f[1]); err == nil {
				if f[0] == "50%" {
					res.p50, have50 = d, true
				} else {
					res.p99, have99 = d, true
				}
			}
		case len(f) >= 4 && f[1] == "requests" && f[2] == "in":
			if res.requests, err = strconv.ParseInt(f[0], 10, 64); err == nil {
				var d time.Duration
				d, err = parseWrkDuration(strings.TrimSuffix(f[3], ","))
				res.seconds, haveCount = d.Seconds(), true
			}
		case strings.HasPrefix(line, "Requests/sec:") && len(f) == 2:
			res.rps, err = strconv.ParseFloat(f[1], 64)
			haveRPS = true
		case strings.HasPrefix(line, "Non-2xx or 3xx responses:") && len(f) == 5:
			res.non2xx3xx, err = strconv.ParseInt(f[4], 10, 64)
		case strings.HasPrefix(line, "Socket errors:"):
			_, err = fmt.Sscanf(line, "Socket errors: connect %d, read %d, write %d, timeout %d",
				&res.connectErrs, &res.readErrs, &res.writeErrs, &res.timeouts)
		}
		if err != nil {
			return res, fmt.Errorf("line %q: %w", line, err)
		}
	}
	if !haveCount || !haveRPS || !have50 || !have99 {
		return res, fmt.Errorf("no request count, Requests/sec, 50%% or 99%% line")
	}
	return res, nil
}

// parseWrkDuration reads wrk's latencies and run lengths: 812.00us, 1.23ms, 5.00s, 1.02m.
func parseWrkDuration(s string) (time.Duration, error) {
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}} {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, err
			}
			return time.Duration(v * float64(u.unit)), nil
		}
	}
	return 0, fmt.Errorf("duration %q: unknown unit", s)
}
