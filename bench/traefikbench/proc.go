package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on
// every Linux that Go runs on, but asked of getconf where it can answer.
var clockTicks = func() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err == nil && v > 0 {
			return v
		}
	}
	return 100
}()

// cpuTime is the process's utime + stime (all threads, not its children).
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:]) // from field 3 (state) on
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseUint(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q, stime %q", pid, f[11], f[12])
	}
	return time.Duration(float64(utime+stime) / clockTicks * float64(time.Second)), nil
}

// memory is a reading of /proc/<pid>/status, in kB.
type memory struct {
	rss, hwm int64 // VmRSS, VmHWM (the peak)
}

func readRSS(pid int) (memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, err
	}
	defer f.Close()
	var m memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			m.rss = v
		case "VmHWM:":
			m.hwm = v
		}
	}
	if m.rss == 0 {
		return m, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
	}
	return m, sc.Err()
}

// loadAverage is the first three fields of /proc/loadavg.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// machineInfo describes the machine, Traefik, wrk and the plugin's source in one line.
func machineInfo(traefik, wrk, root string) string {
	cpu := "?"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if name, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
				break
			}
		}
	}
	kernel := "?"
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(data))
	}
	version := "?"
	if out, err := exec.Command(traefik, "version").Output(); err == nil {
		version = fieldAfter(string(out), "Version:")
		if gov := fieldAfter(string(out), "Go version:"); gov != "?" {
			version += " (" + gov + ")"
		}
	}
	wrkVersion := "?"
	if out, _ := exec.Command(wrk, "--version").CombinedOutput(); len(out) > 0 {
		if f := strings.Fields(string(out)); len(f) > 1 {
			wrkVersion = f[1]
		}
	}
	return fmt.Sprintf("nproc %d, %s, Linux %s; Traefik %s; wrk %s; benchmark %s; plugin: %s, working tree at %s",
		runtime.NumCPU(), cpu, kernel, version, wrkVersion, runtime.Version(), root, pluginVersion(root))
}

// pluginVersion is the last commit of the plugin folder that changed its root files
// (what Traefik loads), with a note when the working tree's differ from it.
func pluginVersion(root string) string {
	source := "?"
	if out, err := exec.Command("git", "-C", root, "log", "-1", "--format=%h", "--", ":(glob)*.go", "go.mod", ".traefik.yml").Output(); err == nil {
		source = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--", "*.go", "go.mod", ".traefik.yml").Output(); err == nil {
			// only the plugin's root files count: those are what Traefik loads
			dirty := false
			for _, line := range strings.Split(string(st), "\n") {
				if len(line) > 3 && !strings.Contains(line[3:], "/") && !strings.HasSuffix(line, "_test.go") {
					dirty = true
				}
			}
			if dirty {
				source += " + uncommitted changes"
			}
		}
	}
	return source
}

// fieldAfter returns the rest of the first line of out that starts with key, trimmed.
func fieldAfter(out, key string) string {
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// profile fetches Traefik's CPU profile for most of a run of d that starts now and
// writes it to the -cpuprofile folder as {route}.pprof (go tool pprof reads it).
func (b *bencher) profile(route int, d time.Duration) <-chan error {
	done := make(chan error, 1)
	seconds := int(d/time.Second) - 1
	if seconds < 1 {
		seconds = 1
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=%d", b.tr.AdminPort, seconds)
	file := filepath.Join(b.s.cpuProfile, strings.ReplaceAll(routeNames[route], " ", "-")+".pprof")
	go func() {
		done <- func() error {
			if err := os.MkdirAll(b.s.cpuProfile, 0o755); err != nil {
				return err
			}
			resp, err := http.Get(url)
			if err != nil {
				return fmt.Errorf("CPU profile: %w", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("CPU profile: GET %s: %s", url, resp.Status)
			}
			data, err := io.ReadAll(resp.Body)
			if err != nil {
				return fmt.Errorf("CPU profile: %w", err)
			}
			return os.WriteFile(file, data, 0o644)
		}()
	}()
	return done
}
