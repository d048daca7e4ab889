package httppolicy_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/httppolicy"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// now is when every response of the tables is received.
var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// date formats now+d as an HTTP date.
func date(d time.Duration) string { return now.Add(d).Format(http.TimeFormat) }

// header builds a header from name, value pairs; a name may repeat.
func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// pol is a policy with FreshFor and MissingFor both fresh, in seconds.
func pol(fresh, stale, ifError int) flightcache.EntryPolicy {
	return flightcache.EntryPolicy{
		FreshFor:     time.Duration(fresh) * time.Second,
		StaleFor:     time.Duration(stale) * time.Second,
		StaleIfError: time.Duration(ifError) * time.Second,
		MissingFor:   time.Duration(fresh) * time.Second,
	}
}

var noStore = flightcache.EntryPolicy{NoStore: true}

// privateOnly is the policy of a result for its own caller only.
var privateOnly = flightcache.EntryPolicy{NoStore: true, Private: true}

// max31 is 2^31 − 1 seconds, the ceiling on delta-seconds (RFC 9111 allows
// 2^31 or the greatest value a cache represents; cacheobject's is an int32).
const max31 = 1<<31 - 1

type policyCase struct {
	name string
	h    http.Header
	o    httppolicy.Options
	want flightcache.EntryPolicy
}

func runCases(t *testing.T, cases []policyCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, httppolicy.Policy(c.h, now, c.o), "%v", c.h)
		})
	}
}

func TestFreshnessLifetime(t *testing.T) {
	private := httppolicy.Options{Private: true}
	runCases(t, []policyCase{
		{"nothing: stale at once", header(), httppolicy.Options{}, pol(0, 0, 0)},
		{"nil header", nil, httppolicy.Options{}, pol(0, 0, 0)},
		{"max-age", header("Cache-Control", "max-age=60"), httppolicy.Options{}, pol(60, 0, 0)},
		{"max-age=0", header("Cache-Control", "max-age=0"), httppolicy.Options{}, pol(0, 0, 0)},
		{"public, max-age", header("Cache-Control", "public, max-age=60"), httppolicy.Options{}, pol(60, 0, 0)},
		{"s-maxage wins in a shared cache", header("Cache-Control", "max-age=60, s-maxage=120"), httppolicy.Options{}, pol(120, 0, 0)},
		{"s-maxage wins when smaller too", header("Cache-Control", "s-maxage=10, max-age=60"), httppolicy.Options{}, pol(10, 0, 0)},
		{"s-maxage is ignored by a private cache", header("Cache-Control", "max-age=60, s-maxage=120"), private, pol(60, 0, 0)},
		{"s-maxage alone, private cache: no lifetime", header("Cache-Control", "s-maxage=120"), private, pol(0, 0, 0)},
		{"s-maxage beats Expires", header("Cache-Control", "s-maxage=30", "Expires", date(time.Hour), "Date", date(0)), httppolicy.Options{}, pol(30, 0, 0)},
		{"Expires minus Date", header("Expires", date(90*time.Second), "Date", date(0)), httppolicy.Options{}, pol(90, 0, 0)},
		{"Expires, no Date: Date is now", header("Expires", date(90*time.Second)), httppolicy.Options{}, pol(90, 0, 0)},
		{"Expires, invalid Date: Date is now", header("Expires", date(90*time.Second), "Date", "yesterday"), httppolicy.Options{}, pol(90, 0, 0)},
		{"Expires and an old Date: lifetime less age", header("Expires", date(50*time.Second), "Date", date(-10*time.Second)), httppolicy.Options{}, pol(50, 0, 0)},
		{"Expires in RFC 850 format", header("Expires", now.Add(time.Minute).Format("Monday, 02-Jan-06 15:04:05 GMT"), "Date", date(0)), httppolicy.Options{}, pol(60, 0, 0)},
		{"Expires in asctime format", header("Expires", now.Add(time.Minute).Format(time.ANSIC), "Date", date(0)), httppolicy.Options{}, pol(60, 0, 0)},
		{"Expires before Date", header("Expires", date(-time.Minute), "Date", date(0)), httppolicy.Options{}, pol(0, 0, 0)},
		{"Expires: 0 is in the past", header("Expires", "0", "Cache-Control", "stale-while-revalidate=30"), httppolicy.Options{}, pol(0, 30, 0)},
		{"empty Expires is in the past", header("Expires", ""), httppolicy.Options{DefaultFreshFor: time.Hour}, pol(0, 0, 0)},
		{"max-age beats Expires", header("Cache-Control", "max-age=60", "Expires", date(time.Hour), "Date", date(0)), httppolicy.Options{}, pol(60, 0, 0)},
		{"max-age=0 beats Expires", header("Cache-Control", "max-age=0", "Expires", date(time.Hour)), httppolicy.Options{}, pol(0, 0, 0)},
		{"Expires in year 9999 is 2^31−1 s", header("Expires", "Fri, 31 Dec 9999 23:59:59 GMT", "Date", date(0)), httppolicy.Options{}, pol(max31, 0, 0)},
		{"max-age past 2^31 is 2^31−1 s", header("Cache-Control", "max-age=99999999999999999999"), httppolicy.Options{}, pol(max31, 0, 0)},
		{"max-age of 2^31−2", header("Cache-Control", "max-age=2147483646"), httppolicy.Options{}, pol(max31-1, 0, 0)},
		{"Pragma: no-cache is ignored", header("Pragma", "no-cache", "Cache-Control", "max-age=60"), httppolicy.Options{}, pol(60, 0, 0)},
		{"unknown directives are ignored", header("Cache-Control", "foo, bar=\"baz\", max-age=60, immutable, no-transform"), httppolicy.Options{}, pol(60, 0, 0)},
		{"directive names are case-insensitive", header("Cache-Control", "MAX-AGE=60, Stale-While-Revalidate=5"), httppolicy.Options{}, pol(60, 5, 0)},
		{"empty members", header("Cache-Control", " , ,max-age=60,, "), httppolicy.Options{}, pol(60, 0, 0)},
		{"Vary other than * is fine", header("Cache-Control", "max-age=60", "Vary", "Accept-Encoding"), httppolicy.Options{}, pol(60, 0, 0)},
	})
}

func TestDefaultFreshFor(t *testing.T) {
	five := httppolicy.Options{DefaultFreshFor: 5 * time.Minute}
	runCases(t, []policyCase{
		{"no freshness information", header(), five, pol(300, 0, 0)},
		{"less its age", header("Age", "60"), five, pol(240, 0, 0)},
		{"less the time since Date", header("Date", date(-100*time.Second)), five, pol(200, 0, 0)},
		{"with stale-while-revalidate", header("Cache-Control", "stale-while-revalidate=30"), five, pol(300, 30, 0)},
		{"not over an explicit max-age=0", header("Cache-Control", "max-age=0"), five, pol(0, 0, 0)},
		{"not over Expires", header("Expires", date(time.Minute)), five, pol(60, 0, 0)},
		{"not over s-maxage", header("Cache-Control", "s-maxage=7"), five, pol(7, 0, 0)},
		{"not over no-cache", header("Cache-Control", "no-cache"), five, pol(0, 0, 0)},
		{"Forever stays Forever whatever the age", header("Age", "1000"), httppolicy.Options{DefaultFreshFor: flightcache.Forever},
			flightcache.EntryPolicy{FreshFor: flightcache.Forever, MissingFor: flightcache.Forever}},
		{"negative is 0", header(), httppolicy.Options{DefaultFreshFor: -time.Hour}, pol(0, 0, 0)},
	})
}

func TestStoreAndRevalidationDirectives(t *testing.T) {
	private := httppolicy.Options{Private: true}
	runCases(t, []policyCase{
		{"no-store", header("Cache-Control", "no-store"), httppolicy.Options{}, noStore},
		{"no-store beats max-age", header("Cache-Control", "max-age=60, no-store, stale-if-error=60"), httppolicy.Options{}, noStore},
		{"no-store on a second line", header("Cache-Control", "max-age=60", "Cache-Control", "no-store"), httppolicy.Options{}, noStore},
		{"no-store in a private cache", header("Cache-Control", "no-store"), private, noStore},
		{"NO-STORE", header("Cache-Control", "NO-STORE"), httppolicy.Options{}, noStore},
		{"no-store with an argument still counts", header("Cache-Control", "no-store=1, max-age=60"), httppolicy.Options{}, noStore},
		{"private, shared cache", header("Cache-Control", "private, max-age=60"), httppolicy.Options{}, privateOnly},
		{"private with field names, shared cache", header("Cache-Control", "private=\"Set-Cookie, X-User\", max-age=60"), httppolicy.Options{}, privateOnly},
		{"private, private cache", header("Cache-Control", "private, max-age=60, stale-while-revalidate=10"), private, pol(60, 10, 0)},
		{"private with quoted commas, private cache", header("Cache-Control", "private=\"a, max-age=1\", max-age=60"), private, pol(60, 0, 0)},
		{"Vary: *", header("Cache-Control", "max-age=60", "Vary", "Accept, *"), httppolicy.Options{}, noStore},
		{"no-cache", header("Cache-Control", "no-cache"), httppolicy.Options{}, pol(0, 0, 0)},
		{"no-cache beats max-age and RFC 5861", header("Cache-Control", "max-age=60, no-cache, stale-while-revalidate=30, stale-if-error=60"), httppolicy.Options{}, pol(0, 0, 0)},
		{"no-cache with field names is no-cache", header("Cache-Control", "no-cache=\"Set-Cookie\", max-age=60"), httppolicy.Options{}, pol(0, 0, 0)},
		{"must-revalidate", header("Cache-Control", "max-age=60, must-revalidate, stale-while-revalidate=30, stale-if-error=60"), httppolicy.Options{}, pol(60, 0, 0)},
		{"must-revalidate in a private cache", header("Cache-Control", "max-age=60, must-revalidate, stale-if-error=60"), private, pol(60, 0, 0)},
		{"must-revalidate with an argument still counts", header("Cache-Control", "max-age=60, must-revalidate=yes, stale-if-error=60"), httppolicy.Options{}, pol(60, 0, 0)},
		{"proxy-revalidate, shared cache", header("Cache-Control", "max-age=60, proxy-revalidate, stale-while-revalidate=30, stale-if-error=60"), httppolicy.Options{}, pol(60, 0, 0)},
		{"proxy-revalidate, private cache", header("Cache-Control", "max-age=60, proxy-revalidate, stale-while-revalidate=30, stale-if-error=60"), private, pol(60, 30, 60)},
		{"stale-while-revalidate", header("Cache-Control", "max-age=60, stale-while-revalidate=30"), httppolicy.Options{}, pol(60, 30, 0)},
		{"stale-if-error", header("Cache-Control", "max-age=60, stale-if-error=86400"), httppolicy.Options{}, pol(60, 0, 86400)},
		{"both RFC 5861 directives", header("Cache-Control", "max-age=0, stale-while-revalidate=30, stale-if-error=300"), httppolicy.Options{}, pol(0, 30, 300)},
		{"s-maxage with stale-while-revalidate", header("Cache-Control", "s-maxage=1, stale-while-revalidate=59"), httppolicy.Options{}, pol(1, 59, 0)},
	})
}

func TestAge(t *testing.T) {
	runCases(t, []policyCase{
		{"Age is subtracted", header("Cache-Control", "max-age=60", "Age", "20"), httppolicy.Options{}, pol(40, 0, 0)},
		{"now − Date is subtracted", header("Cache-Control", "max-age=60", "Date", date(-25*time.Second)), httppolicy.Options{}, pol(35, 0, 0)},
		{"the greater of Age and now − Date: Age", header("Cache-Control", "max-age=60", "Age", "30", "Date", date(-5*time.Second)), httppolicy.Options{}, pol(30, 0, 0)},
		{"the greater of Age and now − Date: Date", header("Cache-Control", "max-age=60", "Age", "5", "Date", date(-30*time.Second)), httppolicy.Options{}, pol(30, 0, 0)},
		{"a Date in the future is age 0", header("Cache-Control", "max-age=60", "Date", date(time.Hour)), httppolicy.Options{}, pol(60, 0, 0)},
		{"Age equal to the lifetime", header("Cache-Control", "max-age=60, stale-while-revalidate=30", "Age", "60"), httppolicy.Options{}, pol(0, 30, 0)},
		{"Age past the lifetime eats the stale windows", header("Cache-Control", "max-age=60, stale-while-revalidate=30, stale-if-error=300", "Age", "70"), httppolicy.Options{}, pol(0, 20, 290)},
		{"Age past the stale windows", header("Cache-Control", "max-age=60, stale-while-revalidate=30, stale-if-error=40", "Age", "1000"), httppolicy.Options{}, pol(0, 0, 0)},
		{"Age with s-maxage", header("Cache-Control", "s-maxage=100, max-age=10", "Age", "50"), httppolicy.Options{}, pol(50, 0, 0)},
		{"Age with Expires", header("Expires", date(100*time.Second), "Date", date(0), "Age", "30"), httppolicy.Options{}, pol(70, 0, 0)},
		{"a list: the first member", header("Cache-Control", "max-age=60", "Age", "10, 50"), httppolicy.Options{}, pol(50, 0, 0)},
		{"two lines: the first", header("Cache-Control", "max-age=60", "Age", "10", "Age", "50"), httppolicy.Options{}, pol(50, 0, 0)},
		{"garbage Age is ignored", header("Cache-Control", "max-age=60", "Age", "abc"), httppolicy.Options{}, pol(60, 0, 0)},
		{"negative Age is ignored", header("Cache-Control", "max-age=60", "Age", "-30"), httppolicy.Options{}, pol(60, 0, 0)},
		{"fractional Age is ignored", header("Cache-Control", "max-age=60", "Age", "1.5"), httppolicy.Options{}, pol(60, 0, 0)},
		{"huge Age is 2^31−1 s", header("Cache-Control", "max-age=60, stale-if-error=600", "Age", "999999999999999999999999"), httppolicy.Options{}, pol(0, 0, 0)},
		{"Age of 2^31 s against max-age of 2^31 s: both capped alike", header("Cache-Control", "max-age=2147483648", "Age", "2147483648"), httppolicy.Options{}, pol(0, 0, 0)},
		{"a Date long ago", header("Cache-Control", "max-age=60, stale-if-error=60", "Date", "Mon, 01 Jan 0001 00:00:00 GMT"), httppolicy.Options{}, pol(0, 0, 0)},
	})
}

func TestMalformedAndConflictingDirectives(t *testing.T) {
	runCases(t, []policyCase{
		{"negative max-age is stale", header("Cache-Control", "max-age=-1"), httppolicy.Options{}, pol(0, 0, 0)},
		{"garbage max-age is stale", header("Cache-Control", "max-age=abc"), httppolicy.Options{}, pol(0, 0, 0)},
		{"fractional max-age is stale", header("Cache-Control", "max-age=1.5"), httppolicy.Options{}, pol(0, 0, 0)},
		{"max-age with no value is stale", header("Cache-Control", "max-age"), httppolicy.Options{}, pol(0, 0, 0)},
		{"max-age= is stale", header("Cache-Control", "max-age="), httppolicy.Options{}, pol(0, 0, 0)},
		{"spaces around = are invalid", header("Cache-Control", "max-age = 60"), httppolicy.Options{}, pol(0, 0, 0)},
		{"a bad max-age still hides Expires", header("Cache-Control", "max-age=soon", "Expires", date(time.Hour)), httppolicy.Options{}, pol(0, 0, 0)},
		{"a bad max-age spoils only itself", header("Cache-Control", "max-age=x, stale-while-revalidate=30, no-store"), httppolicy.Options{}, noStore},
		{"a bad max-age beside a good s-maxage", header("Cache-Control", "max-age=x, s-maxage=30"), httppolicy.Options{}, pol(30, 0, 0)},
		{"a bad s-maxage is stale", header("Cache-Control", "max-age=60, s-maxage=-5"), httppolicy.Options{}, pol(0, 0, 0)},
		{"a bad stale-while-revalidate is 0", header("Cache-Control", "max-age=60, stale-while-revalidate=abc, stale-if-error=9"), httppolicy.Options{}, pol(60, 0, 9)},
		{"a bad stale-if-error is 0", header("Cache-Control", "max-age=60, stale-while-revalidate=5, stale-if-error"), httppolicy.Options{}, pol(60, 5, 0)},
		{"quoted max-age", header("Cache-Control", "max-age=\"60\""), httppolicy.Options{}, pol(60, 0, 0)},
		{"quoted stale-while-revalidate", header("Cache-Control", "max-age=1, stale-while-revalidate=\"30\""), httppolicy.Options{}, pol(1, 30, 0)},
		{"quoted garbage", header("Cache-Control", "max-age=\"sixty\""), httppolicy.Options{}, pol(0, 0, 0)},
		{"an open quote", header("Cache-Control", "max-age=\"60"), httppolicy.Options{}, pol(0, 0, 0)},
		{"an open quote does not hide no-store", header("Cache-Control", "no-cache=\"x, no-store"), httppolicy.Options{}, noStore},
		{"an escaped quote inside quotes", header("Cache-Control", "foo=\"a\\\", no-store\", max-age=60"), httppolicy.Options{}, pol(60, 0, 0)},
		{"the same max-age twice", header("Cache-Control", "max-age=60, max-age=60"), httppolicy.Options{}, pol(60, 0, 0)},
		{"two max-ages that differ: stale", header("Cache-Control", "max-age=60, max-age=120"), httppolicy.Options{}, pol(0, 0, 0)},
		{"two max-ages on two lines: stale", header("Cache-Control", "max-age=60", "Cache-Control", "max-age=30"), httppolicy.Options{}, pol(0, 0, 0)},
		{"a third max-age does not rescue it", header("Cache-Control", "max-age=60, max-age=120, max-age=60"), httppolicy.Options{}, pol(0, 0, 0)},
		{"two stale-while-revalidates that differ: 0", header("Cache-Control", "max-age=60, stale-while-revalidate=10, stale-while-revalidate=20"), httppolicy.Options{}, pol(60, 0, 0)},
		{"two s-maxages that differ: stale", header("Cache-Control", "s-maxage=60, s-maxage=61, max-age=100"), httppolicy.Options{}, pol(0, 0, 0)},
		{"non-ASCII bytes", header("Cache-Control", "max-age=60, \xff\xfe=1, ünicode"), httppolicy.Options{}, pol(60, 0, 0)},
		{"control bytes", header("Cache-Control", "\x00max-age=60\x7f"), httppolicy.Options{}, pol(0, 0, 0)},
	})
}
