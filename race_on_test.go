//go:build race

package flightcache

const raceEnabled = true
