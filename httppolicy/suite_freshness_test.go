package httppolicy_test

// ccFreshnessCases are the HTTP caching test suite's cc-freshness and
// age-parse groups (github.com/http-tests/cache-tests, tests/cc-freshness.mjs
// and tests/age-parse.mjs): freshness from Cache-Control, and the Age field.
var ccFreshnessCases = []suiteCase{
	{id: "freshness-none", kind: "check", steps: []step{
		{pause: true},
		{expect: "not_cached"},
	}},
	{id: "freshness-max-age", kind: "optimal", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=3600")}, pause: true},
		{expect: "cached"},
	}},
	{id: "freshness-max-age-stale", kind: "required", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=2"), hd("Date", 0), hf("Template-A", "1")}, pause: true},
		{expect: "not_cached"},
	}},
	{id: "freshness-max-age-0", kind: "required", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=0")}, pause: true},
		{expect: "not_cached"},
	}},
	{id: "freshness-max-age-max-minus-1", kind: "optimal", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=2147483647")}, pause: true},
		{expect: "cached"},
	}},
	{id: "freshness-max-age-max", kind: "optimal", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=2147483648")}, pause: true},
		{expect: "cached"},
	}},
	{id: "freshness-max-age-max-plus-1", kind: "optimal", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=2147483649")}, pause: true},
		{expect: "cached"},
	}},
	{id: "freshness-max-age-max-plus", kind: "optimal", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=99999999999")}, pause: true},
		{expect: "cached"},
	}},
	{id: "freshness-max-age-age", kind: "required", steps: []step{
		{resp: []field{hd("Date", 0), hf("Cache-Control", "max-age=3600"), hf("Age", "7200")}, pause: true},
		{expect: "not_cached"},
	}},
	{id: "freshness-max-age-date", kind: "check", steps: []step{
		{resp: []field{hd("Date", -7200), hf("Cache-Control", "max-age=3600")}, pause: true},
		{expect: "not_cached"},
	}},
	{id: "freshness-max-age-expires", kind: "optimal", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=3600"), hd("Expires", -7200), hd("Date", 0)}, pause: true},
		{expect: "cached"},
	}},
	{id: "freshness-max-age-expires-invalid", kind: "optimal", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=3600"), hf("Expires", "0"), hd("Date", 0)}, pause: true},
		{expect: "cached"},
	}},
	{id: "freshness-max-age-0-expires", kind: "required", steps: []step{
		{resp: []field{hd("Expires", 3600), hf("Cache-Control", "max-age=0"), hd("Date", 0)}, pause: true},
		{expect: "not_cached"},
	}},
	{id: "freshness-max-age-extension", kind: "optimal", steps: []step{
		{resp: []field{hf("Cache-Control", "foobar, max-age=3600")}, pause: true},
		{expect: "cached"},
	}},
	{id: "freshness-max-age-case-insenstive", kind: "optimal", steps: []step{
		{resp: []field{hf("Cache-Control", "MaX-aGe=3600")}, pause: true},
		{expect: "cached"},
	}},
	{id: "freshness-max-age-negative", kind: "required", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=-3600")}, pause: true},
		{expect: "not_cached"},
	}},
	{id: "freshness-max-age-s-maxage-private", kind: "required", private: true, steps: []step{
		{resp: []field{hf("Cache-Control", "s-maxage=3600, max-age=1")}, pause: true},
		{expect: "not_cached"},
	}},
	{id: "freshness-max-age-s-maxage-private-multiple", kind: "required", private: true, steps: []step{
		{resp: []field{hf("Cache-Control", "s-maxage=3600"), hf("Cache-Control", "max-age=1")}, pause: true},
		{expect: "not_cached"},
	}},
	{id: "freshness-s-maxage-shared", kind: "required", steps: []step{
		{resp: []field{hf("Cache-Control", "s-maxage=3600")}, pause: true},
		{expect: "cached"},
	}},
	{id: "freshness-max-age-s-maxage-shared-longer", kind: "required", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=3600, s-maxage=1")}, pause: true},
		{expect: "not_cached"},
	}},
	{id: "freshness-max-age-s-maxage-shared-longer-reversed", kind: "required", steps: []step{
		{resp: []field{hf("Cache-Control", "s-maxage=1, max-age=3600")}, pause: true},
		{expect: "not_cached"},
	}},
	{id: "freshness-max-age-s-maxage-shared-longer-multiple", kind: "required", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=3600"), hf("Cache-Control", "s-maxage=1")}, pause: true},
		{expect: "not_cached"},
	}},
	{id: "freshness-max-age-s-maxage-shared-shorter", kind: "optimal", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=1, s-maxage=3600")}, pause: true},
		{expect: "cached"},
	}},
	{id: "freshness-max-age-s-maxage-shared-shorter-expires", kind: "optimal", steps: []step{
		{resp: []field{hd("Expires", -10), hf("Cache-Control", "max-age=0, s-maxage=3600")}, pause: true},
		{expect: "cached"},
	}},
	{id: "age-parse-nonnumeric", kind: "required", steps: []step{
		{resp: []field{hd("Date", 0), hf("Cache-Control", "max-age=3600"), hf("Age", "abc")}, pause: true},
		{expect: "cached"},
	}},
	{id: "age-parse-negative", kind: "required", steps: []step{
		{resp: []field{hd("Date", 0), hf("Cache-Control", "max-age=3600"), hf("Age", "-7200")}, pause: true},
		{expect: "cached"},
	}},
	{id: "age-parse-float", kind: "required", steps: []step{
		{resp: []field{hd("Date", 0), hf("Cache-Control", "max-age=3600"), hf("Age", "7200.0")}, pause: true},
		{expect: "cached"},
	}},
	{id: "age-parse-large-minus-one", kind: "required", steps: []step{
		{resp: []field{hd("Date", 0), hf("Cache-Control", "max-age=3600"), hf("Age", "2147483647")}, pause: true},
		{expect: "not_cached"},
	}},
	{id: "age-parse-large", kind: "required", steps: []step{
		{resp: []field{hd("Date", 0), hf("Cache-Control", "max-age=3600"), hf("Age", "2147483648")}, pause: true},
		{expect: "not_cached"},
	}},
	{id: "age-parse-larger", kind: "required", steps: []step{
		{resp: []field{hd("Date", 0), hf("Cache-Control", "max-age=3600"), hf("Age", "2147483649")}, pause: true},
		{expect: "not_cached"},
	}},
	{id: "age-parse-suffix", kind: "required", steps: []step{
		{resp: []field{hd("Date", 0), hf("Cache-Control", "max-age=3600"), hf("Age", "7200, 0")}, pause: true},
		{expect: "not_cached"},
	}},
	{id: "age-parse-prefix", kind: "required", steps: []step{
		{resp: []field{hd("Date", 0), hf("Cache-Control", "max-age=3600"), hf("Age", "0, 7200")}, pause: true},
		{expect: "cached"},
	}},
	{id: "age-parse-suffix-twoline", kind: "required", steps: []step{
		{resp: []field{hd("Date", 0), hf("Cache-Control", "max-age=3600"), hf("Age", "7200"), hf("Age", "0")}, pause: true},
		{expect: "not_cached"},
	}},
	{id: "age-parse-prefix-twoline", kind: "required", steps: []step{
		{resp: []field{hd("Date", 0), hf("Cache-Control", "max-age=3600"), hf("Age", "0"), hf("Age", "7200")}, pause: true},
		{expect: "cached"},
	}},
	{id: "age-parse-dup-0", kind: "required", steps: []step{
		{resp: []field{hd("Date", 0), hf("Cache-Control", "max-age=3600"), hf("Age", "0, 0")}, pause: true},
		{expect: "cached"},
	}},
	{id: "age-parse-dup-0-twoline", kind: "required", steps: []step{
		{resp: []field{hd("Date", 0), hf("Cache-Control", "max-age=3600"), hf("Age", "0"), hf("Age", "0")}, pause: true},
		{expect: "cached"},
	}},
	{id: "age-parse-dup-old", kind: "required", steps: []step{
		{resp: []field{hd("Date", 0), hf("Cache-Control", "max-age=10000"), hf("Age", "3600"), hf("Age", "3600")}, pause: true},
		{expect: "cached"},
	}},
	{id: "age-parse-parameter", kind: "check", steps: []step{
		{resp: []field{hd("Date", 0), hf("Cache-Control", "max-age=3600"), hf("Age", "7200;foo=bar")}, pause: true},
		{expect: "not_cached"},
	}},
	{id: "age-parse-numeric-parameter", kind: "check", steps: []step{
		{resp: []field{hd("Date", 0), hf("Cache-Control", "max-age=3600"), hf("Age", "7200;foo=111")}, pause: true},
		{expect: "not_cached"},
	}},
}
