package keying

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// forEach calls f(0), …, f(n-1), spread over up to GOMAXPROCS goroutines,
// and returns the error of the lowest k that failed. A commit's cost is
// almost all X25519 (or ML-KEM) in its HPKE encryptions and node key
// derivations, which are independent of each other: on several cores they
// run side by side. f must be safe to call concurrently for different k;
// what it computes stays deterministic, since each k writes only its own
// result.
func forEach(n int, f func(k int) error) error {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for k := range n {
			if err := f(k); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= n {
					return
				}
				errs[k] = f(k)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
