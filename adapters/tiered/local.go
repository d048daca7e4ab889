package tiered

import (
	"context"
	"errors"
)

// The local tier's own controls: what redisstore.Subscribe calls to keep it
// in step with the fleet.

// EvictLocal drops key from the local tier only; see Store.
func (s *store[K, V]) EvictLocal(ctx context.Context, key K) error {
	return s.gens.write(key, func() error { return s.local.Delete(ctx, key) })
}

// errNoPurge is the error of a reset of a local tier that is no Purger.
var errNoPurge = errors.New("tiered: the local tier cannot be cleared (it has no Purge method); it may serve entries changed elsewhere until they expire")

// ResetLocal drops every key from the local tier; see Store.
func (s *store[K, V]) ResetLocal(context.Context) error {
	return s.gens.reset(s.purge)
}

// SuspendLocal drops every key from the local tier and stops serving it;
// see Store.
func (s *store[K, V]) SuspendLocal(context.Context) error {
	return s.gens.reset(func() error {
		s.gens.suspended.Store(true)
		return s.purge()
	})
}

// ResumeLocal drops every key from the local tier and serves it again; see
// Store.
func (s *store[K, V]) ResumeLocal(context.Context) error {
	return s.gens.reset(func() error {
		err := s.purge()
		s.gens.suspended.Store(false)
		return err
	})
}

func (s *store[K, V]) purge() error {
	p, ok := s.local.(Purger)
	if !ok {
		return errNoPurge
	}
	p.Purge()
	return nil
}
