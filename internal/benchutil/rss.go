package benchutil

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"
)

// PeakRSSKB returns the peak resident set size of this process in KiB (the
// VmHWM line of /proc/self/status), or 0 where the system does not say.
func PeakRSSKB() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return statusField(bytes.NewReader(b), "VmHWM")
}

// statusField returns the value in KiB of a "Name:   1234 kB" line of a
// /proc/*/status file, or 0 if there is no such line.
func statusField(r io.Reader, name string) uint64 {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != name {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0
		}
		return n
	}
	return 0
}
