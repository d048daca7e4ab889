package flightcache

import (
	"errors"
	"sync"
	"time"

	"github.com/flightcache/flightcache/stats"
)

// This file is a fill's fleet-wide leases (rule 10).

// maxLeaseRounds bounds how often a fill asks for a lease that another
// instance holds, looking at the Store between asks; Lease waits for the
// holder each time, so a fleet needs two or three.
const maxLeaseRounds = 100

var errLeaseSpins = errors.New("flightcache: Leaser.Lease keeps answering that another instance holds the lease, without waiting for it")

// leaseAndLoad loads the keys at idx holding the fleet-wide lease of each
// (rule 10). Over a BatchLeaser it first takes, in one round trip, the
// leases that no other instance holds and loads those keys together; then,
// holding nothing, it waits for the others one by one, so that two
// instances holding different parts of one batch never wait on each other.
// Over a plain Leaser every key is leased and loaded on its own. When the
// Store fails to lease, the fill loads anyway: a fleet with its shared tier
// down loads once per instance rather than not at all.
func (j *job[K, V]) leaseAndLoad(idx []int) {
	if j.f.view.leasesMany(len(idx)) {
		keys := j.keysAt(idx)
		taken, release, err := j.f.view.bleaser.LeaseMany(j.ctx, keys)
		if err != nil {
			if release != nil {
				j.release(release)
			}
			j.leaseFailed(keys, err)
			j.load(idx)
			return
		}
		held := make(map[K]bool, len(taken))
		for _, k := range taken {
			held[k] = true
		}
		var mine, others []int
		for n, i := range idx {
			if held[keys[n]] {
				mine = append(mine, i)
			} else {
				others = append(others, i)
			}
		}
		if len(mine) > 0 {
			func() {
				if release != nil {
					defer j.release(release)
				}
				// Another instance may have stored some keys and
				// released their leases since this fill looked.
				if todo := j.lookAgain(mine); len(todo) > 0 {
					j.load(todo)
				}
			}()
		} else if release != nil {
			j.release(release)
		}
		idx = others
	}
	for _, i := range idx {
		j.waitLease(i)
	}
}

// waitLease loads key i under its lease, waiting while another instance
// holds it; when that instance stores the entry, key i gets it instead.
func (j *job[K, V]) waitLease(i int) {
	for round := 0; j.ctx.Err() == nil; round++ {
		if round == maxLeaseRounds {
			// A Leaser that answers "held elsewhere" without waiting
			// would spin here until the deadline.
			j.leaseFailed(j.keys[i], errLeaseSpins)
			j.load([]int{i})
			return
		}
		release, err := j.f.view.leaser.Lease(j.ctx, j.keys[i])
		if err != nil {
			if j.ctx.Err() != nil {
				return // the deadline gives the key its error
			}
			j.leaseFailed(j.keys[i], err)
			j.load([]int{i})
			return
		}
		if release != nil {
			defer j.release(release)
			if len(j.lookAgain(j.indexSlice(i))) > 0 {
				j.load([]int{i})
			}
			return
		}
		if len(j.lookAgain(j.indexSlice(i))) == 0 {
			return
		}
	}
}

// release calls a lease's release function, on a goroutine of its own when
// the fill runs on its caller's (inline): the caller has its result by then,
// and a release that blocks must not hold it.
func (j *job[K, V]) release(release func()) {
	if j.inline {
		// Close waits for the release, as for any fill's, up to the
		// fill's deadline. The goroutine does not keep the job, which
		// another fill may reuse by then.
		f := j.f
		f.jobs.add()
		var once sync.Once
		done := func() { once.Do(f.jobs.done) }
		timer := time.AfterFunc(time.Until(j.ctx.deadline), done)
		go func() {
			defer done()
			defer timer.Stop()
			f.rep.contain("lease release", release)
		}()
		return
	}
	j.f.rep.contain("lease release", release)
}

func (j *job[K, V]) leaseFailed(keys any, err error) {
	j.f.rep.record(stats.StoreError)
	j.f.rep.warn(j.ctx, false, logLease, "flightcache: fleet-wide lease failed; loading without it", keys, err)
}
