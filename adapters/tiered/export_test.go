package tiered

// ReadsInFlight reports how many keys have a shared read in flight, for
// tests that check that generations do not outlive their reads.
func ReadsInFlight[K comparable, V any](s Store[K, V]) int {
	var st *store[K, V]
	switch s := s.(type) {
	case *store[K, V]:
		st = s
	case *leasingStore[K, V]:
		st = s.store
	case *fencingStore[K, V]:
		st = s.store
	case *leasingFencingStore[K, V]:
		st = s.store
	case *batchLeasingStore[K, V]:
		st = s.store
	case *batchLeasingFencingStore[K, V]:
		st = s.store
	}
	st.gens.mu.Lock()
	defer st.gens.mu.Unlock()
	return len(st.gens.m)
}
