// Package benchutil holds the measuring instruments of 'conclave bench':
// a log-linear latency histogram that merges across processes, the peak
// resident set size of the running process, and Worker, a child process
// that is driven by JSON lines.
//
//	conclave bench (parent)
//	   │ JSON lines on stdin/stdout, stderr copied with a prefix
//	   ├── Worker: conclave bench-member 0 ─┐
//	   ├── Worker: conclave bench-member 1 ─┼─ UDP on 127.0.0.1
//	   └── Worker: conclave bench-member 2 ─┘
//
// Each member records into a Histogram and reports it with PeakRSSKB; the
// parent merges the histograms and reads the quantiles.
package benchutil
