package flightcache

import (
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
)

// Limits of the tags of one entry (EntryPolicy.Tags, [NewTags]).
const (
	// MaxTags is how many distinct tags one entry may have.
	MaxTags = 64
	// MaxTagLen is the longest tag, in bytes.
	MaxTagLen = 1024
)

// ErrInvalidTag is the error, wrapped, of a tag that cannot be used: an
// empty one, one longer than MaxTagLen, or more than MaxTags for one entry.
var ErrInvalidTag = errors.New("flightcache: invalid tag")

// Tags is the set of tags of one entry ([Entry.Tags]): sorted, without
// repeats, and never modified once made, so that Stores and readers may
// share it. The nil *Tags is the empty set, and every method works on it.
// A Store that keeps entries as bytes keeps the names ([Tags.All]) and
// makes the set again with [NewTags].
type Tags struct {
	names []string
}

// NewTags returns the set of names, sorted and without repeats, nil when
// names is empty. It does not keep names: the caller may reuse the slice. It returns an error wrapping ErrInvalidTag for an
// empty name, one longer than MaxTagLen bytes, or more than MaxTags
// distinct names.
func NewTags(names ...string) (*Tags, error) {
	if len(names) == 0 {
		return nil, nil
	}
	for _, n := range names {
		if err := checkTag(n); err != nil {
			return nil, err
		}
	}
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	sorted = slices.Clip(slices.Compact(sorted))
	if len(sorted) > MaxTags {
		return nil, fmt.Errorf("%w: %d distinct tags, at most %d", ErrInvalidTag, len(sorted), MaxTags)
	}
	return &Tags{names: sorted}, nil
}

// checkTag returns the error of a tag that cannot be used, and nil
// otherwise.
func checkTag(tag string) error {
	switch {
	case tag == "":
		return fmt.Errorf("%w: the empty tag", ErrInvalidTag)
	case len(tag) > MaxTagLen:
		return fmt.Errorf("%w: %d bytes, at most %d", ErrInvalidTag, len(tag), MaxTagLen)
	}
	return nil
}

// Len returns how many tags t has.
func (t *Tags) Len() int {
	if t == nil {
		return 0
	}
	return len(t.names)
}

// All yields the tags of t in increasing order.
func (t *Tags) All() iter.Seq[string] {
	return func(yield func(string) bool) {
		if t == nil {
			return
		}
		for _, n := range t.names {
			if !yield(n) {
				return
			}
		}
	}
}

// Has reports whether t has tag.
func (t *Tags) Has(tag string) bool {
	if t == nil {
		return false
	}
	_, ok := slices.BinarySearch(t.names, tag)
	return ok
}

// String returns the tags in braces, as {a b}.
func (t *Tags) String() string {
	if t == nil {
		return "{}"
	}
	return "{" + strings.Join(t.names, " ") + "}"
}
