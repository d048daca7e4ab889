package tiered

// ReadsInFlight reports how many keys have a shared read in flight, for
// tests that check that generations do not outlive their reads.
func ReadsInFlight[K comparable, V any](s Store[K, V]) int {
	st := s.(interface{ inner() *store[K, V] }).inner()
	st.gens.mu.Lock()
	defer st.gens.mu.Unlock()
	return len(st.gens.m)
}

// NotificationsInBackground reports how many notifications go on after their
// caller left, for tests that check that Close waits for them.
func NotificationsInBackground[K comparable, V any](s Store[K, V]) int {
	return s.(interface{ inner() *store[K, V] }).inner().notifying.sending()
}
