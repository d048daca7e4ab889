package httppolicy_test

// ccParseResponseCases are the suite's cc-parse and cc-response groups
// (tests/cc-parse.mjs, tests/cc-response.mjs), without the browser-only
// immutable tests, which are about a browser's reload: how Cache-Control is
// parsed, and what no-store, no-cache, private and must-revalidate do.
var ccParseResponseCases = []suiteCase{
	{id: "freshness-max-age-two-fresh-stale-sameline", kind: "check", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=1800, max-age=1")}, pause: true},
		{expect: "cached"},
	}},
	{id: "freshness-max-age-two-fresh-stale-sepline", kind: "check", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=1800"), hf("Cache-Control", "max-age=1")}, pause: true},
		{expect: "cached"},
	}},
	{id: "freshness-max-age-two-stale-fresh-sameline", kind: "check", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=1, max-age=1800")}, pause: true},
		{expect: "cached"},
	}},
	{id: "freshness-max-age-two-stale-fresh-sepline", kind: "check", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=1"), hf("Cache-Control", "max-age=1800")}, pause: true},
		{expect: "cached"},
	}},
	{id: "freshness-max-age-quoted", kind: "check", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=\"3600\"")}, pause: true},
		{expect: "cached"},
	}},
	{id: "freshness-max-age-ignore-quoted", kind: "required", steps: []step{
		{resp: []field{hf("Cache-Control", "extension=\"max-age=3600\", max-age=1")}, pause: true},
		{expect: "not_cached"},
	}},
	{id: "freshness-max-age-ignore-quoted-rev", kind: "required", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=1, extension=\"max-age=3600\"")}, pause: true},
		{expect: "not_cached"},
	}},
	{id: "freshness-max-age-space-before-equals", kind: "check", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age =3600")}, pause: true},
		{expect: "not_cached"},
	}},
	{id: "freshness-max-age-space-after-equals", kind: "check", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age= 3600")}, pause: true},
		{expect: "not_cached"},
	}},
	{id: "freshness-max-age-leading-zero", kind: "required", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=003600")}, pause: true},
		{expect: "cached"},
	}},
	{id: "freshness-max-age-single-quoted", kind: "required", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age='3600'")}, pause: true},
		{expect: "not_cached"},
	}},
	{id: "freshness-max-age-decimal-zero", kind: "check", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=3600.0")}, pause: true},
		{expect: "cached"},
	}},
	{id: "freshness-max-age-decimal-five", kind: "check", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=3600.5")}, pause: true},
		{expect: "cached"},
	}},
	{id: "freshness-max-age-a100", kind: "check", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=a3600")}, pause: true},
		{expect: "cached"},
	}},
	{id: "freshness-max-age-100a", kind: "check", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=3600a")}, pause: true},
		{expect: "cached"},
	}},
	{id: "cc-resp-private-shared", kind: "required", steps: []step{
		{resp: []field{hf("Cache-Control", "private, max-age=3600")}},
		{expect: "not_cached"},
	}},
	{id: "cc-resp-private-private", kind: "optimal", private: true, steps: []step{
		{resp: []field{hf("Cache-Control", "private, max-age=3600")}},
		{expect: "cached"},
	}},
	{id: "cc-resp-no-store", kind: "required", steps: []step{
		{resp: []field{hf("Cache-Control", "no-store")}},
		{expect: "not_cached"},
	}},
	{id: "cc-resp-no-store-case-insensitive", kind: "required", steps: []step{
		{resp: []field{hf("Cache-Control", "No-StOrE")}},
		{expect: "not_cached"},
	}},
	{id: "cc-resp-no-store-fresh", kind: "required", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=10000, no-store"), hd("Expires", 10000), hd("Date", 0)}},
		{expect: "not_cached"},
	}},
	{id: "cc-resp-no-store-old-new", kind: "required", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=10000"), hd("Expires", 10000), hd("Date", 0), hf("A", "1")}, pause: true},
		{resp: []field{hf("Cache-Control", "no-store"), hd("Date", 0), hf("A", "2")}, pause: true},
		{expect: "cached", wantHdr: []field{hf("a", "1")}},
	}},
	{id: "cc-resp-no-store-old-max-age", kind: "required", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=10000"), hd("Expires", 10000), hd("Date", 0), hf("A", "1")}, pause: true},
		{resp: []field{hf("Cache-Control", "no-store, max-age=0"), hd("Date", 0), hf("A", "2")}, pause: true},
		{expect: "cached", wantHdr: []field{hf("a", "1")}},
	}},
	{id: "cc-resp-no-cache", kind: "required", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=10000, no-cache"), hd("Expires", 10000), hd("Date", 0)}},
		{expect: "not_cached"},
	}},
	{id: "cc-resp-no-cache-case-insensitive", kind: "required", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=10000, No-CaChE"), hd("Expires", 10000), hd("Date", 0)}},
		{expect: "not_cached"},
	}},
	{id: "cc-resp-no-cache-revalidate", kind: "optimal", steps: []step{
		{resp: []field{hf("Cache-Control", "no-cache"), hf("ETag", "\"abcd\"")}},
		{expect: "etag_validated"},
	}},
	{id: "cc-resp-no-cache-revalidate-fresh", kind: "optimal", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=10000, no-cache"), hd("Expires", 10000), hd("Date", 0), hf("ETag", "\"abcd\"")}},
		{expect: "etag_validated"},
	}},
	{id: "headers-omit-headers-listed-in-Cache-Control-no-cache-single", kind: "check", steps: []step{
		{resp: []field{hf("Cache-Control", "no-cache=\"a\""), hf("a", "1"), hf("b", "2"), hf("Cache-Control", "max-age=3600"), hd("Date", 0)}, pause: true},
		{expect: "cached", wantHdr: []field{hf("b", "2")}, noHdr: []string{"a"}},
	}},
	{id: "headers-omit-headers-listed-in-Cache-Control-no-cache", kind: "check", steps: []step{
		{resp: []field{hf("Cache-Control", "no-cache=\"a, b\""), hf("a", "1"), hf("b", "2"), hf("c", "3"), hf("Cache-Control", "max-age=3600"), hd("Date", 0)}, pause: true},
		{expect: "cached", wantHdr: []field{hf("c", "3")}, noHdr: []string{"a", "b"}},
	}},
	{id: "cc-resp-must-revalidate-fresh", kind: "optimal", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=10000, must-revalidate"), hf("ETag", "\"abcd\"")}},
		{expect: "cached"},
	}},
	{id: "cc-resp-must-revalidate-stale", kind: "required", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=2, must-revalidate"), hf("ETag", "\"abcd\"")}},
		{resp: []field{hf("Cache-Control", "max-age=2, must-revalidate"), hf("ETag", "\"abcd\"")}, pause: true, expect: "cached"},
		{expect: "etag_validated"},
	}},
}
