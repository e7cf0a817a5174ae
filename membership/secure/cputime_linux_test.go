package secure

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// cpuClock reads the calling thread's CPU time, which a loaded machine's
// preemptions do not inflate as they do wall time. The caller locks its
// goroutine to its thread (lockThread).
func cpuClock() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

func lockThread() func() {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}

// processCPU reads the CPU time of the whole process, every thread.
func processCPU() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
