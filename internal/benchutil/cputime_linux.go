package benchutil

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// ThreadCPU reads the calling thread's CPU time, which a loaded machine's
// preemptions do not inflate as they do wall time. The caller locks its
// goroutine to its thread (LockThread).
func ThreadCPU() time.Duration { return clock(unix.CLOCK_THREAD_CPUTIME_ID) }

// ProcessCPU reads the CPU time of the whole process, every thread.
func ProcessCPU() time.Duration { return clock(unix.CLOCK_PROCESS_CPUTIME_ID) }

func clock(id int32) time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(id, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// LockThread locks the calling goroutine to its thread, for ThreadCPU,
// and returns what unlocks it.
func LockThread() func() {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}
