package harness

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
)

// A log must never hold a secret (SPEC 8: never a token, secret or full cookie). The
// harness registers each secret it configures or sees (Secret) and the end-to-end
// package's TestMain scans every log that Traefik wrote for them (ScanCollectedLogs).
// A line that holds a whole registered value, or any LeakWindow consecutive characters
// of one (a log line may cut a token short), is a finding.

// LeakWindow is the shortest piece of a registered value that counts as a leak.
const LeakWindow = 24

// minSecret is the shortest value Secret scans for. A shorter one (a test's "x")
// would match ordinary text; it is counted, by kind, in the scan's summary instead.
const minSecret = 12

// indexWindow and indexStride: a value is indexed by its pieces of indexWindow
// characters starting every indexStride characters. Any LeakWindow characters of it
// hold one such piece, since indexWindow+indexStride <= LeakWindow: a line is looked
// up at each position, and a hit is then measured against the value itself.
const (
	indexWindow = 16
	indexStride = 8
)

// SecretSet is a set of secret values, each with its kind ("sessionSecret",
// "cookie ags_client_session", "ID token"), which names it in a finding: the value
// itself is never printed.
type SecretSet struct {
	mu     sync.Mutex
	kinds  map[string]string // value to kind (the first one registered)
	short  map[string]int    // kind to the number of values under minSecret
	counts map[string]int    // kind to the number of values scanned for
	long   []string          // values of LeakWindow characters or more
	whole  []string          // values of minSecret to LeakWindow characters
	pieces map[string][]piece
}

type piece struct {
	value int // index in long
	at    int // offset of the piece in the value
}

// NewSecretSet returns an empty set.
func NewSecretSet() *SecretSet {
	return &SecretSet{kinds: map[string]string{}, short: map[string]int{}, counts: map[string]int{},
		pieces: map[string][]piece{}}
}

// Add registers value as a secret of kind.
func (s *SecretSet) Add(kind, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, seen := s.kinds[value]; seen || value == "" {
		return
	}
	if len(value) < minSecret {
		s.short[kind]++
		return
	}
	s.kinds[value] = kind
	s.counts[kind]++
	if len(value) < LeakWindow {
		s.whole = append(s.whole, value)
		return
	}
	i := len(s.long)
	s.long = append(s.long, value)
	for at := 0; at+indexWindow <= len(value); at += indexStride {
		k := value[at : at+indexWindow]
		s.pieces[k] = append(s.pieces[k], piece{value: i, at: at})
	}
}

// Len is the number of values scanned for.
func (s *SecretSet) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.kinds)
}

// Kinds says how many values of each kind are scanned for.
func (s *SecretSet) Kinds() string { return s.byKind(s.counts) }

// Unscanned says which kinds had values too short to scan for, and how many.
func (s *SecretSet) Unscanned() string { return s.byKind(s.short) }

func (s *SecretSet) byKind(counts map[string]int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var parts []string
	for kind, n := range counts {
		parts = append(parts, fmt.Sprintf("%d %s", n, kind))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// Leak is a line of a log that holds a secret, or LeakWindow characters of one.
type Leak struct {
	File  string
	Line  int
	Kind  string // the secret's kind
	Chars int    // how many consecutive characters of it the line holds
	Whole bool   // the whole value
}

func (l Leak) String() string {
	what := fmt.Sprintf("%d consecutive characters", l.Chars)
	if l.Whole {
		what = "the whole value"
	}
	return fmt.Sprintf("%s:%d: %s (%s)", l.File, l.Line, l.Kind, what)
}

// ScanFile reads the file at path line by line and returns its leaks, one per line
// and kind, the longest piece each.
func (s *SecretSet) ScanFile(path string) ([]Leak, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return s.Scan(path, f)
}

// Scan is ScanFile of r, named name in the leaks.
func (s *SecretSet) Scan(name string, r io.Reader) ([]Leak, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var leaks []Leak
	rd := bufio.NewReaderSize(r, 1<<16)
	for n := 1; ; n++ {
		line, err := rd.ReadString('\n')
		if line != "" {
			leaks = append(leaks, s.scanLine(name, n, line)...)
		}
		if err == io.EOF {
			return leaks, nil
		}
		if err != nil {
			return leaks, err
		}
	}
}

func (s *SecretSet) scanLine(name string, n int, line string) []Leak {
	found := map[string]Leak{} // by kind
	note := func(value string, chars int) {
		kind := s.kinds[value]
		if l, ok := found[kind]; !ok || chars > l.Chars {
			found[kind] = Leak{File: name, Line: n, Kind: kind, Chars: chars, Whole: chars == len(value)}
		}
	}
	for _, v := range s.whole {
		if strings.Contains(line, v) {
			note(v, len(v))
		}
	}
	for i := 0; i+indexWindow <= len(line); i++ {
		for _, p := range s.pieces[line[i:i+indexWindow]] {
			v := s.long[p.value]
			if chars := commonRun(line, i, v, p.at); chars >= LeakWindow {
				note(v, chars)
			}
		}
	}
	leaks := make([]Leak, 0, len(found))
	for _, l := range found {
		leaks = append(leaks, l)
	}
	sort.Slice(leaks, func(i, j int) bool { return leaks[i].Kind < leaks[j].Kind })
	return leaks
}

// commonRun is the length of the run of characters that line and v share around
// line[i:i+indexWindow] == v[at:at+indexWindow].
func commonRun(line string, i int, v string, at int) int {
	left := 0
	for i-left > 0 && at-left > 0 && line[i-left-1] == v[at-left-1] {
		left++
	}
	right := indexWindow
	for i+right < len(line) && at+right < len(v) && line[i+right] == v[at+right] {
		right++
	}
	return left + right
}

// secrets is the process's registry: every secret a test run configures or sees.
var secrets = NewSecretSet()

// Secret registers value, of kind, as a secret that no log may hold. The harness
// calls it where it configures one or receives one; a test may add its own. It does
// nothing before CollectLogs: a benchmark that signs in thousands of users keeps no
// registry.
func Secret(kind, value string) {
	collected.mu.Lock()
	on := collected.dir != ""
	collected.mu.Unlock()
	if on {
		secrets.Add(kind, value)
	}
}

// collected is the run's folder of Traefik logs, kept past each Traefik's Close for
// the scan at the end of the run; "" until CollectLogs.
var collected struct {
	mu    sync.Mutex
	dir   string
	files []string
	n     int
}

// CollectLogs keeps, from now on, the log of every Traefik the harness starts (a
// Traefik's Close moves it into one folder of the run) for ScanCollectedLogs.
func CollectLogs() error {
	collected.mu.Lock()
	defer collected.mu.Unlock()
	if collected.dir != "" {
		return nil
	}
	dir, err := os.MkdirTemp("", "ags-e2e-logs-")
	if err != nil {
		return err
	}
	collected.dir = dir
	return nil
}

// keepLog moves a stopped Traefik's log into the run's folder as name when
// CollectLogs is on, and returns where it is now; name "" keeps it where it is (its
// folder stays: AGS_E2E_KEEP).
func keepLog(path, name string) string {
	collected.mu.Lock()
	defer collected.mu.Unlock()
	if collected.dir == "" {
		return path
	}
	if name == "" {
		collected.files = append(collected.files, path)
		return path
	}
	collected.n++
	kept := fmt.Sprintf("%s/%03d-%s", collected.dir, collected.n, name)
	if err := os.Rename(path, kept); err != nil {
		if data, rerr := os.ReadFile(path); rerr == nil && os.WriteFile(kept, data, 0o644) == nil {
			err = nil
		}
		if err != nil {
			kept = path // scanned where it is, if it is still there
		}
	}
	collected.files = append(collected.files, kept)
	return kept
}

// ScanCollectedLogs scans every log kept since CollectLogs, and the logs of Traefiks
// still running, for the registered secrets. It returns the leaks and a one-line
// summary. Without leaks or errors it removes the folder; else it keeps it and the
// leaks name its files.
func ScanCollectedLogs() ([]Leak, string, error) {
	collected.mu.Lock()
	dir, files := collected.dir, append([]string(nil), collected.files...)
	collected.mu.Unlock()
	files = append(files, runningLogs()...)
	var leaks []Leak
	var errs []string
	for _, f := range files {
		l, err := secrets.ScanFile(f)
		if err != nil {
			errs = append(errs, err.Error())
		}
		leaks = append(leaks, l...)
	}
	summary := fmt.Sprintf("secret scan: %d Traefik logs, %d leaks; %d secrets: %s", len(files), len(leaks), secrets.Len(), secrets.Kinds())
	if u := secrets.Unscanned(); u != "" {
		summary += " (too short to scan: " + u + ")"
	}
	if len(errs) > 0 {
		return leaks, summary, fmt.Errorf("secret scan: %s", strings.Join(errs, "; "))
	}
	if len(leaks) == 0 && dir != "" {
		os.RemoveAll(dir)
	}
	return leaks, summary, nil
}

// running holds the log paths of the Traefiks started and not yet closed.
var running struct {
	mu   sync.Mutex
	logs map[*Traefik]string
}

func trackLog(t *Traefik, path string) {
	running.mu.Lock()
	defer running.mu.Unlock()
	if running.logs == nil {
		running.logs = map[*Traefik]string{}
	}
	if path == "" {
		delete(running.logs, t)
	} else {
		running.logs[t] = path
	}
}

func runningLogs() []string {
	running.mu.Lock()
	defer running.mu.Unlock()
	var paths []string
	for _, p := range running.logs {
		paths = append(paths, p)
	}
	return paths
}
