package sim

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Membership faults, drawn from the seed during the active phase. Every
// churnGap (uniform in [churnGapMin, churnGapMin+churnGapSpread)) one of
// the enabled kinds is tried, at random; when it cannot apply now (no
// minority left to crash, a partition already on, …) the next enabled kind
// is tried instead:
//
//   - crash: a running process stops and its address is detached, as long
//     as the crashed processes stay a minority of the running and crashed
//     ones; half of the crashed processes restart after restartMin to
//     restartMin+restartSpread, as a new endpoint (new incarnation) at the
//     same address, if the active phase lasts that long;
//   - partition: the running processes split into two random sides for
//     healMin to healMin+healSpread; one partition at a time; processes
//     starting meanwhile go to a random side;
//   - join: a process starts at a new address, with the initial members'
//     addresses as seeds;
//   - leave: a member calls Leave; once it has left (Left) it stops.
//
// Crashes and leaves always leave a running member, not leaving, at one of
// the initial members' addresses, so that joiners (which know only those)
// find the group; leaves keep at least two members. When the active phase
// ends, pending restarts are dropped and a partition heals.
const (
	churnGapMin    = 100 * time.Millisecond
	churnGapSpread = 500 * time.Millisecond
	restartMin     = 100 * time.Millisecond
	restartSpread  = 900 * time.Millisecond
	healMin        = 100 * time.Millisecond
	healSpread     = 1400 * time.Millisecond
)

type faultType uint8

const (
	fCrash faultType = iota
	fPartition
	fJoin
	fLeave
)

// churn is the state of the membership faults.
type churn struct {
	next        time.Duration // when to try the next fault
	timers      []timer       // restarts and heals, by time
	down        int           // crashed processes not restarted
	partitioned bool
	side        map[int]int // by process, while partitioned
}

type timer struct {
	at      time.Duration
	restart int // the crashed process to restart, or -1 to heal
}

func (r *run) churnGap() time.Duration {
	return churnGapMin + time.Duration(r.faults.Int64N(int64(churnGapSpread)))
}

// disrupt applies the membership faults due now.
func (r *run) disrupt() {
	c := &r.churn
	for len(c.timers) > 0 && c.timers[0].at <= r.now {
		t := c.timers[0]
		c.timers = c.timers[1:]
		if t.restart >= 0 {
			r.restart(t.restart)
		} else {
			r.heal()
		}
	}
	if r.now < c.next {
		return
	}
	c.next = r.now + r.churnGap()
	var kinds []faultType
	f := r.cfg.Faults
	for k, on := range []bool{fCrash: f.Crash, fPartition: f.Partition, fJoin: f.Join, fLeave: f.Leave} {
		if on {
			kinds = append(kinds, faultType(k))
		}
	}
	if len(kinds) == 0 {
		return
	}
	first := r.faults.IntN(len(kinds))
	for i := range kinds {
		if r.tryFault(kinds[(first+i)%len(kinds)]) {
			return
		}
	}
}

func (r *run) tryFault(k faultType) bool {
	switch k {
	case fCrash:
		return r.crash()
	case fPartition:
		return r.partition()
	case fJoin:
		return r.join()
	case fLeave:
		return r.leave()
	}
	return false
}

func (r *run) schedule(t timer) {
	i, _ := slices.BinarySearchFunc(r.churn.timers, t.at, func(x timer, at time.Duration) int {
		if x.at <= at {
			return -1 // after the timers already due then
		}
		return 1
	})
	r.churn.timers = slices.Insert(r.churn.timers, i, t)
}

// calm ends the membership faults: pending restarts are dropped and a
// partition heals.
func (r *run) calm() {
	r.churn.timers = nil
	if r.churn.partitioned {
		r.heal()
	}
}

// anchored reports whether, without process p, a running member that is
// not leaving remains at one of the initial members' addresses.
func (r *run) anchored(without int) bool {
	for p, pr := range r.procs {
		if p != without && pr.state == StateUp && !pr.leaving && slices.Contains(r.seeds, pr.self.Addr) {
			return true
		}
	}
	return false
}

func (r *run) crash() bool {
	up := 0
	var cands []int
	for p, pr := range r.procs {
		if pr.state == StateUp {
			up++
			if r.anchored(p) {
				cands = append(cands, p)
			}
		}
	}
	// After the crash the crashed (down+1) must stay fewer than half of
	// the running and crashed processes (up-1 + down+1).
	if len(cands) == 0 || 2*(r.churn.down+1) >= up+r.churn.down {
		return false
	}
	p := cands[r.faults.IntN(len(cands))]
	pr := r.procs[p]
	pr.state = StateCrashed
	r.net.Detach(pr.self.Addr)
	r.checker.Crashed(p)
	r.becameEx(p)
	r.churn.down++
	r.res.Crashes++
	restart := ""
	if r.faults.IntN(2) == 0 {
		if at := r.now + restartMin + time.Duration(r.faults.Int64N(int64(restartSpread))); at < r.activeEnd {
			r.schedule(timer{at: at, restart: p})
			restart = fmt.Sprintf("; restarts at %v", at)
		}
	}
	r.logf("crash m%d%s", p, restart)
	return true
}

// restart starts a new process at crashed process old's address.
func (r *run) restart(old int) {
	addr := r.procs[old].self.Addr
	r.net.Attach(addr)
	r.churn.down--
	r.res.Restarts++
	p := r.started(addr)
	r.logf("m%d restarts as m%d", old, p)
}

func (r *run) join() bool {
	up := len(r.live())
	if up >= MaxMembers || len(r.procs) >= 4*r.cfg.Members+8 {
		return false
	}
	r.res.Joins++
	p := r.started(r.newAddr())
	r.logf("m%d joins", p)
	return true
}

// started starts a process during the active phase, with its share of the
// workload, on a random side of a partition if there is one.
func (r *run) started(addr netip.AddrPort) int {
	p := r.start(addr, false)
	left := r.activeEnd - r.now
	share := func(n int) int { return int(int64(n) * int64(left) / int64(r.cfg.Active)) }
	if r.cfg.Active > 0 {
		r.procs[p].ops = workload(r.work, share(r.cfg.Messages), share(r.cfg.Sends), r.now, r.activeEnd)
	}
	if r.churn.partitioned {
		r.churn.side[p] = r.faults.IntN(2)
		r.applyPartition()
	}
	return p
}

func (r *run) leave() bool {
	live := r.live()
	if len(live) < 3 {
		return false
	}
	var cands []int
	for _, p := range live {
		if r.anchored(p) {
			cands = append(cands, p)
		}
	}
	if len(cands) == 0 {
		return false
	}
	p := cands[r.faults.IntN(len(cands))]
	pr := r.procs[p]
	pr.leaving = true
	r.checker.Leaving(p)
	r.res.Leaves++
	r.logf("m%d leaves", p)
	r.input(p, inLeave, netip.AddrPort{}, nil)
	return true
}

func (r *run) partition() bool {
	if r.churn.partitioned {
		return false
	}
	var up []int
	for p, pr := range r.procs {
		if pr.state == StateUp {
			up = append(up, p)
		}
	}
	if len(up) < 2 {
		return false
	}
	r.faults.Shuffle(len(up), func(i, j int) { up[i], up[j] = up[j], up[i] })
	k := 1 + r.faults.IntN(len(up)-1)
	r.churn.partitioned = true
	r.churn.side = make(map[int]int)
	for i, p := range up {
		if i >= k {
			r.churn.side[p] = 1
		} else {
			r.churn.side[p] = 0
		}
	}
	heal := r.now + healMin + time.Duration(r.faults.Int64N(int64(healSpread)))
	r.schedule(timer{at: heal, restart: -1})
	r.res.Partitions++
	r.applyPartition()
	return true
}

// applyPartition puts the partition in r.churn.side on the network.
func (r *run) applyPartition() {
	var sides [2][]netip.AddrPort
	var names [2][]string
	for p, pr := range r.procs {
		if s, ok := r.churn.side[p]; ok && pr.state == StateUp {
			sides[s] = append(sides[s], pr.self.Addr)
			names[s] = append(names[s], fmt.Sprintf("m%d", p))
		}
	}
	if r.adv != nil {
		// Strangers take sides too, so that they still reach someone.
		for i, a := range r.adv.strangers {
			sides[i%2] = append(sides[i%2], a)
		}
	}
	if r.sec != nil {
		for i, o := range r.sec.outsiders {
			sides[i%2] = append(sides[i%2], o.self.Addr)
		}
	}
	r.net.Partition(sides[0], sides[1])
	r.logf("partition [%s] | [%s]", strings.Join(names[0], " "), strings.Join(names[1], " "))
}

func (r *run) heal() {
	r.net.Heal()
	r.churn.partitioned = false
	r.churn.side = nil
	r.logf("heal")
}
