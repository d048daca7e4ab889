package httppolicy_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/flightcache/flightcache/httppolicy"
)

func TestParseDate(t *testing.T) {
	utc := func(y int, m time.Month, d, hh, mm, ss int) time.Time {
		return time.Date(y, m, d, hh, mm, ss, 0, time.UTC)
	}
	valid := []struct {
		name, v string
		want    time.Time
	}{
		{"IMF-fixdate", "Sun, 06 Nov 1994 08:49:37 GMT", utc(1994, 11, 6, 8, 49, 37)},
		{"rfc850-date", "Sunday, 06-Nov-94 08:49:37 GMT", utc(1994, 11, 6, 8, 49, 37)},
		{"asctime-date", "Sun Nov  6 08:49:37 1994", utc(1994, 11, 6, 8, 49, 37)},
		{"asctime-date, two-digit day", "Thu Aug 18 02:01:18 2050", utc(2050, 8, 18, 2, 1, 18)},
		{"asctime-date, zero-padded day", "Sun Nov 06 08:49:37 1994", utc(1994, 11, 6, 8, 49, 37)},
		{"surrounding OWS", " \tSun, 06 Nov 1994 08:49:37 GMT\t ", utc(1994, 11, 6, 8, 49, 37)},
		{"wrong case, weekday", "THU, 18 Aug 2050 02:01:18 GMT", utc(2050, 8, 18, 2, 1, 18)},
		{"wrong case, month", "Thu, 18 AUG 2050 02:01:18 GMT", utc(2050, 8, 18, 2, 1, 18)},
		{"wrong case, zone", "Thu, 18 Aug 2050 02:01:18 gMT", utc(2050, 8, 18, 2, 1, 18)},
		{"the weekday is not checked", "Mon, 06 Nov 1994 08:49:37 GMT", utc(1994, 11, 6, 8, 49, 37)},
		{"29 February of a leap year", "Thu, 29 Feb 2024 00:00:00 GMT", utc(2024, 2, 29, 0, 0, 0)},
		{"a leap second", "Sat, 31 Dec 2016 23:59:60 GMT", utc(2017, 1, 1, 0, 0, 0)},
		{"year 9999", "Fri, 31 Dec 9999 23:59:59 GMT", utc(9999, 12, 31, 23, 59, 59)},
		{"rfc850, 24 years ahead", "Thursday, 18-Aug-50 02:01:18 GMT", utc(2050, 8, 18, 2, 1, 18)},
		{"rfc850, more than 50 years ahead is past", "Friday, 18-Aug-80 02:01:18 GMT", utc(1980, 8, 18, 2, 1, 18)},
	}
	for _, c := range valid {
		t.Run(c.name, func(t *testing.T) {
			got, ok := httppolicy.ParseDate(c.v, now)
			assert.True(t, ok, "%q", c.v)
			assert.Equal(t, c.want, got)
		})
	}
	invalid := map[string]string{
		"empty":                                  "",
		"zero":                                   "0",
		"minus one":                              "-1",
		"1-digit hour":                           "Thu, 18 Aug 2050 2:01:18 GMT",
		"multiple spaces":                        "Thu, 18  Aug  2050 02:01:18 GMT",
		"UTC":                                    "Thu, 18 Aug 2050 02:01:18 UTC",
		"AEST":                                   "Thu, 18 Aug 2050 02:01:18 AEST",
		"2-digit year":                           "Thu, 18 Aug 50 02:01:18 GMT",
		"no comma":                               "Thu 18 Aug 2050 02:01:18 GMT",
		"date dashes":                            "Thu, 18-Aug-2050 02:01:18 GMT",
		"time periods":                           "Thu, 18 Aug 2050 02.01.18 GMT",
		"a folded line":                          "Thu, 18 Aug 2050\r\n 02:01:18 GMT",
		"trailing garbage":                       "Thu, 18 Aug 2050 02:01:18 GMT x",
		"31 April":                               "Thu, 31 Apr 2050 02:01:18 GMT",
		"29 February, no leap year":              "Thu, 29 Feb 2023 02:01:18 GMT",
		"day 0":                                  "Thu, 00 Aug 2050 02:01:18 GMT",
		"hour 24":                                "Thu, 18 Aug 2050 24:01:18 GMT",
		"minute 60":                              "Thu, 18 Aug 2050 02:60:18 GMT",
		"second 61":                              "Thu, 18 Aug 2050 02:01:61 GMT",
		"an unknown month":                       "Thu, 18 Auf 2050 02:01:18 GMT",
		"a long day name":                        "Thursday, 18 Aug 2050 02:01:18 GMT",
		"a short day name, rfc850":               "Thu, 18-Aug-50 02:01:18 GMT",
		"rfc850 with a 4-digit year":             "Thursday, 18-Aug-2050 02:01:18 GMT",
		"asctime with a zone":                    "Thu Aug 18 02:01:18 2050 GMT",
		"asctime, 1-digit day without its space": "Thu Aug 8 02:01:18 2050",
		"signs in digits":                        "Thu, +8 Aug 2050 02:01:18 GMT",
		"non-ASCII":                              "Thu, 18 Äug 2050 02:01:18 GMT",
		"a numeric zone":                         "Thu, 18 Aug 2050 02:01:18 +0000",
		"RFC 3339":                               "2050-08-18T02:01:18Z",
		"truncated":                              "Thu, 18 Aug 20",
	}
	for name, v := range invalid {
		t.Run("invalid: "+name, func(t *testing.T) {
			_, ok := httppolicy.ParseDate(v, now)
			assert.False(t, ok, "%q", v)
		})
	}
}

// FuzzParseDate checks that no input makes ParseDate panic, and that an
// input it refuses gives the zero time.
func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "", "Sun, 06 Nov"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, ok := httppolicy.ParseDate(v, now)
		if !ok {
			assert.True(t, got.IsZero())
		}
	})
}

// TestMalformedExpiresIsInThePast is issue 25's input 1: http.ParseTime took a
// one-digit hour, doubled spaces and a second Expires line, and such a
// response was fresh for 215,854 hours; RFC 9111, section 5.3, has an
// invalid Expires mean the past (the HTTP caching test suite's
// freshness-expires-invalid-1-digit-hour, -multiple-spaces and
// -multiple-lines).
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
