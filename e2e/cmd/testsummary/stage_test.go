package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestStageCounts: two stages that ran at the same time appended their counts lines
// interleaved; each stage sums its own, and a stage that ran no go test has none.
func TestStageCounts(t *testing.T) {
	file := filepath.Join(t.TempDir(), "counts")
	lines := "begin\t1700000000000\n" +
		"unit\t10\t1\t0\tunit\n" +
		"yaegi\t7\t0\t2\tyaegi\n" +
		"stage\tunit\t56.0\n" +
		"unit\t5\t0\t0\tunit\n" +
		"bench\t3\t0\t0\tbench-smoke\n" +
		"e2e\t4\t0\t0\t\n" // made outside make test: no stage
	if err := os.WriteFile(file, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		stage string
		want  counts
		any   bool
	}{
		{"unit", counts{15, 1, 0}, true},
		{"yaegi", counts{7, 0, 2}, true},
		{"bench-smoke", counts{3, 0, 0}, true},
		{"tools", counts{}, false},
	} {
		got, any := stageCounts(file, tc.stage)
		if got != tc.want || any != tc.any {
			t.Errorf("stageCounts(%q) = %+v, %v; want %+v, %v", tc.stage, got, any, tc.want, tc.any)
		}
	}
}
