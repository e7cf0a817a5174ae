// Package bench is the harness of 'conclave bench': it measures the group's
// reliable multicast against plain UDP with member processes on 127.0.0.1.
//
// Run is the parent. It starts each member as a child process (this program
// with the hidden MemberCommand subcommand, which calls RunMember) and drives
// it with JSON lines:
//
//	parent                              member r
//	  start the process ─────────────────▶ bind three UDP sockets on 127.0.0.1:0
//	        ◀───────────────── hello (its raw, stack and total addresses)
//	  command setup ─────────────────────▶ every address, the parameters
//	  command raw, start time ───────────▶ send / count plain datagrams
//	        ◀───────────────── rawReport
//	  command join ──────────────────────▶ Join, wait for a view of all
//	        ◀───────────────── joined (the view's id)
//	  command stack, start time ─────────▶ multicast / deliver, drain
//	        ◀───────────────── stackReport
//	 with --total:
//	  command join-total ────────────────▶ Close the first group; Join a
//	                                       second, totally ordered, on the
//	                                       total socket; wait for a view of all
//	        ◀───────────────── joined
//	  command total, start time ─────────▶ multicast / deliver, drain
//	        ◀───────────────── stackReport
//	  close its stdin ───────────────────▶ Close the group, exit 0
//
// A member whose standard input ends early (its parent died) stops and
// exits. Phases start at a wall-clock time chosen by the parent, so they do
// not overlap and every member counts over the same window. The parent then
// merges the members' reports into a Result, printed as tables or as one line
// of JSON.
//
// The instruments (histogram, peak RSS, pacer, the worker process) are in
// internal/benchutil.
package bench
