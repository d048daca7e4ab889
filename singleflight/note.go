package singleflight

// NoteOnce returns the note kept with the call of t, which every Ticket of
// the call shares, after keeping the value that newNote returns as the note
// when the call has none yet: newNote runs at most once per call, for the
// first caller that asks. It lets the callers of one call share what they
// know of it that the Group does not (a tracer's record of who waited on
// it). A note lives as long as its call; a call that nobody asks a note of
// has none and pays nothing for it. NoteOnce takes the Group's lock:
// newNote must not call into the Group. It returns nil for the zero Ticket.
func (t Ticket[K, V]) NoteOnce(newNote func() any) any {
	if t.c == nil {
		return nil
	}
	t.g.mu.Lock()
	defer t.g.mu.Unlock()
	if t.c.note == nil {
		// A pointer, one word in every call, rather than an interface,
		// two: calls that are never noted are the rule.
		n := newNote()
		t.c.note = &n
	}
	return *t.c.note
}

// Note returns the note kept with the call of t (see [Ticket.NoteOnce]),
// or nil when it has none.
func (t Ticket[K, V]) Note() any {
	if t.c == nil {
		return nil
	}
	t.g.mu.Lock()
	defer t.g.mu.Unlock()
	if t.c.note == nil {
		return nil
	}
	return *t.c.note
}
