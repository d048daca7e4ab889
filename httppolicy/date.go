package httppolicy

import (
	"net/http"
	"strings"
	"time"
)

// dayNames and longDayNames are the day-name and day-name-l of RFC 9110,
// section 5.6.7; monthNames its month.
var (
	dayNames     = []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
	longDayNames = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	monthNames   = []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
)

// ParseDate parses an HTTP-date (RFC 9110, section 5.6.7) strictly: the
// preferred IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") and the two
// obsolete formats a recipient must accept, rfc850-date ("Sunday,
// 06-Nov-94 08:49:37 GMT") and asctime-date ("Sun Nov  6 08:49:37 1994"),
// each exactly: one space where the grammar has one, two digits where it
// has two, "GMT" and no other zone. It reports false for anything else,
// such as a one-digit hour, doubled spaces, a two-digit year in an
// IMF-fixdate or a date that does not exist (31 Apr). Unlike the grammar,
// and as the HTTP caching test suite's optimal tests ask, day names, month
// names and "GMT" are matched without regard to case; the day name is not
// checked against the date. Leading and trailing spaces and tabs (a
// field's OWS) are ignored.
//
// An rfc850-date's two-digit year is taken as the year with those last
// two digits that lies within 50 years of now (RFC 9110, section 5.6.7:
// one that appears to be more than 50 years in the future is in the past).
func ParseDate(v string, now time.Time) (time.Time, bool) {
	v = strings.Trim(v, " \t")
	s := &dateScanner{s: v, ok: true}
	var t time.Time
	switch {
	case strings.IndexByte(v, ',') == 3:
		t = s.imfFixdate()
	case strings.IndexByte(v, ',') > 3:
		t = s.rfc850(now)
	default:
		t = s.asctime()
	}
	if !s.ok || s.s != "" {
		return time.Time{}, false
	}
	return t, true
}

// dateScanner reads an HTTP-date from the front of s; ok turns false at
// the first byte that does not fit, and every later read is then a no-op.
type dateScanner struct {
	s  string
	ok bool
}

// imfFixdate reads day-name "," SP 2DIGIT SP month SP 4DIGIT SP time-of-day SP "GMT".
func (d *dateScanner) imfFixdate() time.Time {
	d.name(dayNames)
	d.lit(", ")
	day := d.digits(2)
	d.lit(" ")
	month := d.name(monthNames)
	d.lit(" ")
	year := d.digits(4)
	d.lit(" ")
	h, m, s := d.timeOfDay()
	d.gmt()
	return d.date(year, month, day, h, m, s)
}

// rfc850 reads day-name-l "," SP 2DIGIT "-" month "-" 2DIGIT SP time-of-day SP "GMT".
func (d *dateScanner) rfc850(now time.Time) time.Time {
	d.name(longDayNames)
	d.lit(", ")
	day := d.digits(2)
	d.lit("-")
	month := d.name(monthNames)
	d.lit("-")
	yy := d.digits(2)
	d.lit(" ")
	h, m, s := d.timeOfDay()
	d.gmt()
	return d.date(fullYear(yy, now.UTC().Year()), month, day, h, m, s)
}

// asctime reads day-name SP month SP ( 2DIGIT / ( SP DIGIT ) ) SP time-of-day SP 4DIGIT.
func (d *dateScanner) asctime() time.Time {
	d.name(dayNames)
	d.lit(" ")
	month := d.name(monthNames)
	d.lit(" ")
	var day int
	if strings.HasPrefix(d.s, " ") {
		d.lit(" ")
		day = d.digits(1)
	} else {
		day = d.digits(2)
	}
	d.lit(" ")
	h, m, s := d.timeOfDay()
	d.lit(" ")
	year := d.digits(4)
	return d.date(year, month, day, h, m, s)
}

// timeOfDay reads 2DIGIT ":" 2DIGIT ":" 2DIGIT.
func (d *dateScanner) timeOfDay() (h, m, s int) {
	h = d.digits(2)
	d.lit(":")
	m = d.digits(2)
	d.lit(":")
	s = d.digits(2)
	return h, m, s
}

// gmt reads SP "GMT", in any case.
func (d *dateScanner) gmt() {
	d.lit(" ")
	if d.ok && len(d.s) >= 3 && strings.EqualFold(d.s[:3], "GMT") {
		d.s = d.s[3:]
		return
	}
	d.ok = false
}

// lit reads want exactly.
func (d *dateScanner) lit(want string) {
	if d.ok && strings.HasPrefix(d.s, want) {
		d.s = d.s[len(want):]
		return
	}
	d.ok = false
}

// digits reads exactly n ASCII digits and returns their value.
func (d *dateScanner) digits(n int) int {
	if !d.ok || len(d.s) < n {
		d.ok = false
		return 0
	}
	v := 0
	for i := range n {
		c := d.s[i]
		if c < '0' || c > '9' {
			d.ok = false
			return 0
		}
		v = v*10 + int(c-'0')
	}
	d.s = d.s[n:]
	return v
}

// name reads a run of ASCII letters that is one of names, in any case, and
// returns its index.
func (d *dateScanner) name(names []string) int {
	if !d.ok {
		return 0
	}
	n := 0
	for n < len(d.s) && (d.s[n]|0x20 >= 'a' && d.s[n]|0x20 <= 'z') {
		n++
	}
	for i, want := range names {
		if strings.EqualFold(d.s[:n], want) {
			d.s = d.s[n:]
			return i
		}
	}
	d.ok = false
	return 0
}

// date builds the instant, in UTC, or clears ok when a field is out of
// range (a second of 60, for a leap second, is allowed, as in RFC 9110).
func (d *dateScanner) date(year, month, day, h, m, s int) time.Time {
	if !d.ok {
		return time.Time{}
	}
	mon := time.Month(month + 1)
	daysIn := time.Date(year, mon+1, 0, 0, 0, 0, 0, time.UTC).Day()
	if day < 1 || day > daysIn || h > 23 || m > 59 || s > 60 {
		d.ok = false
		return time.Time{}
	}
	return time.Date(year, mon, day, h, m, s, 0, time.UTC)
}

// fullYear is the year ending in the two digits yy that lies within 50
// years of the year now (RFC 9110, section 5.6.7).
func fullYear(yy, now int) int {
	y := now - now%100 + yy
	switch {
	case y > now+50:
		y -= 100
	case y <= now-50:
		y += 100
	}
	return y
}

// singleDate parses the header field name of h as an HTTP-date. A field
// given more than once is invalid (an HTTP-date is not a list), as is an
// absent one: present reports whether it was there at all.
func singleDate(h http.Header, name string, now time.Time) (t time.Time, ok, present bool) {
	vs := h.Values(name)
	if len(vs) == 0 {
		return time.Time{}, false, false
	}
	if len(vs) > 1 {
		return time.Time{}, false, true
	}
	t, ok = ParseDate(vs[0], now)
	return t, ok, true
}
