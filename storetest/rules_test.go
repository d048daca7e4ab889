package storetest

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flightcache/flightcache"
)

func TestEveryCheckQuotesARule(t *testing.T) {
	for _, c := range cases {
		if rules[c.name] == "" {
			t.Errorf("check %q has no rule to quote", c.name)
		}
	}
}

// otherValue returns a value for a field of type typ that differs from v,
// or false for a type the test does not know, which a new Entry field would
// bring: the test then fails, so that diff and format are taught the field.
func otherValue(typ reflect.Type, v reflect.Value) (reflect.Value, bool) {
	o := reflect.New(typ).Elem()
	switch {
	case typ == reflect.TypeFor[flightcache.Deadline]():
		o.Set(reflect.ValueOf(v.Interface().(flightcache.Deadline).Add(time.Nanosecond)))
	case typ == reflect.TypeFor[time.Duration]():
		o.SetInt(v.Int() + 1)
	case typ == reflect.TypeFor[flightcache.Micros]():
		o.SetUint(v.Uint() + 1)
	case typ.Kind() == reflect.Bool:
		o.SetBool(!v.Bool())
	case typ.Kind() == reflect.String:
		o.SetString(v.String() + "x")
	case typ == reflect.TypeFor[*flightcache.Tags]():
		names := slices.Collect(v.Interface().(*flightcache.Tags).All())
		o.Set(reflect.ValueOf(mustTags(append(names, "other")...)))
	default:
		return o, false
	}
	return o, true
}

// TestDiffSeesEveryField makes sure the round-trip checks compare, and their
// messages show, every field of flightcache.Entry, including any added after
// this suite was written: a Store that drops a field must fail.
func TestDiffSeesEveryField(t *testing.T) {
	s := &suite{base: baseTime()}
	base := s.positive("value", 1)
	typ := reflect.TypeOf(base)
	for i := range typ.NumField() {
		f := typ.Field(i)
		changed := base
		fv := reflect.ValueOf(&changed).Elem().Field(i)
		o, ok := otherValue(f.Type, fv)
		if !ok {
			t.Errorf("Entry field %s has type %s, which diff and this test do not know", f.Name, f.Type)
			continue
		}
		fv.Set(o)
		d := diff(changed, base)
		if d == "" || !strings.Contains(d, f.Name) {
			t.Errorf("diff of entries that differ only in %s = %q, want a difference naming %s", f.Name, d, f.Name)
		}
		if !strings.Contains(format(base), f.Name+":") {
			t.Errorf("format(%s) does not show field %s", format(base), f.Name)
		}
	}
}

// TestEntriesSetEveryField makes sure the entries the checks store give
// every field of flightcache.Entry a value of its own, so that a Store that
// drops a field, or stores one in another's place, is caught.
func TestEntriesSetEveryField(t *testing.T) {
	s := &suite{base: baseTime()}
	for _, e := range []entry{s.positive("value", 1), s.negative(1)} {
		v := reflect.ValueOf(e)
		for i := range v.NumField() {
			name := v.Type().Field(i).Name
			if name == "Missing" && !e.Missing || name == "Value" && e.Missing {
				continue // the negative entry sets Missing, the positive Value
			}
			if v.Field(i).IsZero() {
				t.Errorf("%s leaves %s zero", format(e), name)
			}
		}
		times := map[flightcache.Deadline]string{}
		for _, f := range []struct {
			name string
			t    flightcache.Deadline
		}{{"FreshUntil", e.FreshUntil}, {"StaleUntil", e.StaleUntil}, {"ExpiresAt", e.ExpiresAt}} {
			if other, ok := times[f.t]; ok {
				t.Errorf("%s gives %s and %s the same time", format(e), other, f.name)
			}
			times[f.t] = f.name
		}
		if !(e.FreshUntil.Before(e.StaleUntil) && e.StaleUntil.Before(e.ExpiresAt)) {
			t.Errorf("%s: want FreshUntil < StaleUntil < ExpiresAt, as the Loader builds them", format(e))
		}
	}
}

// TestDiffComparesTagsByName: a Store that keeps entries as bytes returns
// another *Tags with the same names, which is the same entry; a nil *Tags
// and an empty set are the same too; any other difference is one.
func TestDiffComparesTagsByName(t *testing.T) {
	s := &suite{base: baseTime()}
	e := s.positive("value", 1)
	same := e
	same.Tags = mustTags(slices.Collect(e.Tags.All())...)
	if d := diff(same, e); d != "" {
		t.Errorf("diff of entries whose tags are equal sets in different pointers = %q, want none", d)
	}
	untagged := s.positive("value", 2)
	empty := untagged
	empty.Tags = new(flightcache.Tags)
	if d := diff(empty, untagged); d != "" {
		t.Errorf("diff of an entry with an empty *Tags and one with nil = %q, want none", d)
	}
	fewer := e
	fewer.Tags = mustTags("storetest")
	for _, c := range []struct{ got, want entry }{{fewer, e}, {untagged, withTags(untagged, e.Tags)}, {withTags(untagged, e.Tags), untagged}} {
		if d := diff(c.got, c.want); !strings.Contains(d, "Tags") {
			t.Errorf("diff of %s and %s = %q, want a difference of Tags", format(c.got), format(c.want), d)
		}
	}
}

func withTags(e entry, tags *flightcache.Tags) entry {
	e.Tags = tags
	return e
}
