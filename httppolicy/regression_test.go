package httppolicy_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/flightcache/flightcache/httppolicy"
)

// TestMalformedExpiresIsInThePast is issue 25's input 1: http.ParseTime
// took a one-digit hour, doubled spaces and a second Expires line, and such
// a response was fresh for 215,854 hours; RFC 9111, section 5.3, has an
// invalid Expires mean the past (cache-tests' freshness-expires-invalid-*).
func TestMalformedExpiresIsInThePast(t *testing.T) {
	for name, h := range map[string][]string{
		"1-digit-hour":    {"Expires", "Thu, 18 Aug 2050 2:01:18 GMT"},
		"multiple-spaces": {"Expires", "Thu, 18  Aug  2050 02:01:18 GMT"},
		"multiple-lines":  {"Expires", "Thu, 18 Aug 2050 02:01:18 GMT", "Expires", "Thu, 18 Aug 2050 02:01:19 GMT"},
	} {
		t.Run(name, func(t *testing.T) {
			p := httppolicy.Policy(header(append(h, "Date", date(0))...), now, httppolicy.Options{})
			assert.Zero(t, p.FreshFor)
		})
	}
}
