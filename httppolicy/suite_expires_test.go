package httppolicy_test

// expiresCases are the suite's expires-freshness and expires-parse groups
// (tests/expires-freshness.mjs, tests/expires-parse.mjs): freshness from
// Expires, and which dates are valid.
var expiresCases = []suiteCase{
	{id: "freshness-expires-future", kind: "optimal", steps: []step{
		{resp: []field{hd("Expires", 2592000), hd("Date", 0)}, pause: true},
		{expect: "cached"},
	}},
	{id: "freshness-expires-past", kind: "required", steps: []step{
		{resp: []field{hd("Expires", -2592000), hd("Date", 0)}, pause: true},
		{expect: "not_cached"},
	}},
	{id: "freshness-expires-present", kind: "required", steps: []step{
		{resp: []field{hd("Expires", 0), hd("Date", 0)}},
		{expect: "not_cached"},
	}},
	{id: "freshness-expires-old-date", kind: "required", steps: []step{
		{resp: []field{hd("Expires", 300), hd("Date", 400)}, pause: true},
		{expect: "not_cached"},
	}},
	{id: "freshness-expires-invalid", kind: "required", steps: []step{
		{resp: []field{hf("Expires", "0"), hd("Date", 0)}, pause: true},
		{expect: "not_cached"},
	}},
	{id: "freshness-expires-invalid-date", kind: "optimal", steps: []step{
		{resp: []field{hf("Date", "foo"), hd("Expires", 10)}},
		{expect: "cached"},
	}},
	{id: "freshness-expires-age-slow-date", kind: "required", steps: []step{
		{resp: []field{hd("Date", -10), hd("Expires", 10), hf("Age", "25")}},
		{expect: "not_cached"},
	}},
	{id: "freshness-expires-age-fast-date", kind: "required", steps: []step{
		{resp: []field{hd("Date", 10), hd("Expires", 20), hf("Age", "15")}},
		{expect: "not_cached"},
	}},
	{id: "freshness-expires-32bit", kind: "optimal", steps: []step{
		{resp: []field{hf("Expires", "Tue, 19 Jan 2038 14:14:08 GMT"), hd("Date", 0)}, pause: true},
		{expect: "cached"},
	}},
	{id: "freshness-expires-far-future", kind: "optimal", steps: []step{
		{resp: []field{hf("Expires", "Sun, 21 Nov 2286 04:46:39 GMT"), hd("Date", 0)}, pause: true},
		{expect: "cached"},
	}},
	{id: "freshness-expires-rfc850", kind: "optimal", steps: []step{
		{resp: []field{hf("Expires", "Thursday, 18-Aug-50 02:01:18 GMT"), hd("Date", 0)}, pause: true},
		{expect: "cached"},
	}},
	{id: "freshness-expires-ansi-c", kind: "optimal", steps: []step{
		{resp: []field{hf("Expires", "Thu Aug  8 02:01:18 2050"), hd("Date", 0)}, pause: true},
		{expect: "cached"},
	}},
	{id: "freshness-expires-wrong-case-weekday", kind: "optimal", steps: []step{
		{resp: []field{hf("Expires", "THU, 18 Aug 2050 02:01:18 GMT"), hd("Date", 0)}, pause: true},
		{expect: "cached"},
	}},
	{id: "freshness-expires-wrong-case-month", kind: "optimal", steps: []step{
		{resp: []field{hf("Expires", "Thu, 18 AUG 2050 02:01:18 GMT"), hd("Date", 0)}, pause: true},
		{expect: "cached"},
	}},
	{id: "freshness-expires-wrong-case-tz", kind: "optimal", steps: []step{
		{resp: []field{hf("Expires", "Thu, 18 Aug 2050 02:01:18 gMT"), hd("Date", 0)}, pause: true},
		{expect: "cached"},
	}},
	{id: "freshness-expires-invalid-utc", kind: "required", steps: []step{
		{resp: []field{hf("Expires", "Thu, 18 Aug 2050 02:01:18 UTC"), hd("Date", 0)}, pause: true},
		{expect: "not_cached"},
	}},
	{id: "freshness-expires-invalid-aest", kind: "required", steps: []step{
		{resp: []field{hf("Expires", "Thu, 18 Aug 2050 02:01:18 AEST"), hd("Date", 0)}, pause: true},
		{expect: "not_cached"},
	}},
	{id: "freshness-expires-invalid-2-digit-year", kind: "required", steps: []step{
		{resp: []field{hf("Expires", "Thu, 18 Aug 50 02:01:18 GMT"), hd("Date", 0)}, pause: true},
		{expect: "not_cached"},
	}},
	{id: "freshness-expires-invalid-no-comma", kind: "required", steps: []step{
		{resp: []field{hf("Expires", "Thu 18 Aug 2050 02:01:18 GMT"), hd("Date", 0)}, pause: true},
		{expect: "not_cached"},
	}},
	{id: "freshness-expires-invalid-multiple-spaces", kind: "required", steps: []step{
		{resp: []field{hf("Expires", "Thu, 18  Aug  2050 02:01:18 GMT"), hd("Date", 0)}},
		{expect: "not_cached"},
	}},
	{id: "freshness-expires-invalid-date-dashes", kind: "required", steps: []step{
		{resp: []field{hf("Expires", "Thu, 18-Aug-2050 02:01:18 GMT"), hd("Date", 0)}},
		{expect: "not_cached"},
	}},
	{id: "freshness-expires-invalid-time-periods", kind: "required", steps: []step{
		{resp: []field{hf("Expires", "Thu, 18 Aug 2050 02.01.18 GMT"), hd("Date", 0)}},
		{expect: "not_cached"},
	}},
	{id: "freshness-expires-invalid-1-digit-hour", kind: "required", steps: []step{
		{resp: []field{hf("Expires", "Thu, 18 Aug 2050 2:01:18 GMT"), hd("Date", 0)}},
		{expect: "not_cached"},
	}},
	{id: "freshness-expires-invalid-multiple-lines", kind: "required", steps: []step{
		{resp: []field{hf("Expires", "Thu, 18 Aug 2050 2:01:18 GMT"), hf("Expires", "Thu, 18 Aug 2050 2:01:19 GMT"), hd("Date", 0)}},
		{expect: "not_cached"},
	}},
}
