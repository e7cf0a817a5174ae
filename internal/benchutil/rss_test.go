package benchutil

import (
	"runtime"
	"strings"
	"testing"
)

func TestStatusField(t *testing.T) {
	const status = "Name:\tconclave\nVmPeak:\t  123456 kB\nVmHWM:\t    8192 kB\nVmRSS:\t    4096 kB\n"
	if got := statusField(strings.NewReader(status), "VmHWM"); got != 8192 {
		t.Errorf("VmHWM = %d, want 8192", got)
	}
	if got := statusField(strings.NewReader(status), "VmSwap"); got != 0 {
		t.Errorf("missing field = %d, want 0", got)
	}
	if got := statusField(strings.NewReader("VmHWM:\t12 MB\n"), "VmHWM"); got != 0 {
		t.Errorf("unknown unit = %d, want 0", got)
	}
}

func TestPeakRSSKB(t *testing.T) {
	got := PeakRSSKB()
	if runtime.GOOS == "linux" && got == 0 {
		t.Error("no peak RSS on Linux")
	}
}
