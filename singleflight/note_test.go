package singleflight_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightcache/flightcache/singleflight"
)

func TestEveryTicketOfACallSharesOneNoteMadeOnce(t *testing.T) {
	var g singleflight.Group[string, int]
	first, started, err := g.Claim("k")
	require.NoError(t, err)
	require.True(t, started)
	joiner, started, err := g.Claim("k")
	require.NoError(t, err)
	require.False(t, started)

	assert.Nil(t, first.Note(), "a call nobody noted has no note")
	made := 0
	newNote := func() any { made++; return &made }
	n1 := joiner.NoteOnce(newNote)
	n2 := first.NoteOnce(newNote)
	assert.Same(t, n1, n2)
	assert.Same(t, n1, first.Note())
	assert.Equal(t, 1, made, "the note is made once per call")

	first.Finish(1, nil)
	next, started, err := g.Claim("k")
	require.NoError(t, err)
	require.True(t, started)
	assert.Nil(t, next.Note(), "a new call of the key starts without the old call's note")
	next.Finish(2, nil)
}

func TestAnUnsharedCallHasANoteOfItsOwn(t *testing.T) {
	var g singleflight.Group[string, int]
	shared, _, err := g.Claim("k")
	require.NoError(t, err)
	alone, err := g.ClaimUnshared("k")
	require.NoError(t, err)
	shared.NoteOnce(func() any { return "shared" })
	assert.Equal(t, "alone", alone.NoteOnce(func() any { return "alone" }))
	assert.Equal(t, "shared", shared.Note())
	shared.Finish(0, nil)
	alone.Finish(0, nil)
	var zero singleflight.Ticket[string, int]
	assert.Nil(t, zero.NoteOnce(func() any { return 1 }), "the zero Ticket has no call to note")
}
