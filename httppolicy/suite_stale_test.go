package httppolicy_test

// staleHeuristicCases are the suite's stale and heuristic-freshness groups
// (tests/stale.mjs, tests/heuristic-freshness.mjs): serving stale
// responses, and heuristic freshness by status code.
var staleHeuristicCases = []suiteCase{
	{id: "stale-close", kind: "check", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=2"), hd("Date", 0), hf("Template-A", "1")}, pause: true},
		{disconn: true, expect: "cached"},
	}},
	{id: "stale-503", kind: "check", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=2"), hd("Date", 0), hf("Template-A", "1")}, pause: true},
		{status: 503, expect: "cached"},
	}},
	{id: "stale-while-revalidate", kind: "optimal", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=1, stale-while-revalidate=3600"), hf("ETag", "\"abc\"")}, pause: true},
		{expect: "cached"},
	}},
	{id: "stale-while-revalidate-window", kind: "required", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=1, stale-while-revalidate=4"), hf("ETag", "\"abc\"")}, pause: true},
		{resp: []field{hf("Cache-Control", "no-cache"), hf("ETag", "\"def\"")}, pause: true, expect: "cached"},
		{wantHdr: []field{hf("client-request-count", "3")}},
	}},
	{id: "stale-sie-close", kind: "check", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=2, stale-if-error=60")}, pause: true},
		{disconn: true, expect: "cached"},
	}},
	{id: "stale-sie-503", kind: "check", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=2, stale-if-error=60")}, pause: true},
		{status: 503, expect: "cached"},
	}},
	{id: "stale-close-must-revalidate", kind: "required", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=2, must-revalidate")}, pause: true},
		{disconn: true, noStored: true},
	}},
	{id: "stale-close-proxy-revalidate", kind: "required", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=2, proxy-revalidate")}, pause: true},
		{disconn: true, noStored: true},
	}},
	{id: "stale-close-no-cache", kind: "required", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=2, no-cache")}, pause: true},
		{disconn: true, noStored: true},
	}},
	{id: "stale-close-s-maxage=2", kind: "required", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=2, s-maxage=2")}, pause: true},
		{disconn: true, noStored: true},
	}},
	{id: "stale-warning-stored", kind: "check", steps: []step{
		{resp: []field{hd("Expires", -5000), hd("Last-Modified", -100000), hd("Date", 0)}, pause: true},
		{disconn: true, expect: "cached", wantHdr: []field{hf("warning", "")}},
	}},
	{id: "stale-warning-become", kind: "check", steps: []step{
		{resp: []field{hf("Cache-Control", "max-age=2"), hd("Date", 0), hf("Template-A", "1")}, pause: true},
		{disconn: true, expect: "cached", wantHdr: []field{hf("warning", "")}},
	}},
	{id: "heuristic-200-cached", kind: "optimal", steps: []step{
		{status: 200, resp: []field{hd("Last-Modified", -86400), hd("Date", 0)}},
		{status: 200, expect: "cached"},
	}},
	{id: "heuristic-201-not_cached", kind: "required", steps: []step{
		{status: 201, resp: []field{hd("Last-Modified", -86400), hd("Date", 0)}},
		{status: 201, expect: "not_cached"},
	}},
	{id: "heuristic-202-not_cached", kind: "required", steps: []step{
		{status: 202, resp: []field{hd("Last-Modified", -86400), hd("Date", 0)}},
		{status: 202, expect: "not_cached"},
	}},
	{id: "heuristic-203-cached", kind: "optimal", steps: []step{
		{status: 203, resp: []field{hd("Last-Modified", -86400), hd("Date", 0)}},
		{status: 203, expect: "cached"},
	}},
	{id: "heuristic-204-cached", kind: "optimal", steps: []step{
		{status: 204, resp: []field{hd("Last-Modified", -86400), hd("Date", 0)}},
		{status: 204, expect: "cached"},
	}},
	{id: "heuristic-403-not_cached", kind: "required", steps: []step{
		{status: 403, resp: []field{hd("Last-Modified", -86400), hd("Date", 0)}},
		{status: 403, expect: "not_cached"},
	}},
	{id: "heuristic-404-cached", kind: "optimal", steps: []step{
		{status: 404, resp: []field{hd("Last-Modified", -86400), hd("Date", 0)}},
		{status: 404, expect: "cached"},
	}},
	{id: "heuristic-405-cached", kind: "optimal", steps: []step{
		{status: 405, resp: []field{hd("Last-Modified", -86400), hd("Date", 0)}},
		{status: 405, expect: "cached"},
	}},
	{id: "heuristic-410-cached", kind: "optimal", steps: []step{
		{status: 410, resp: []field{hd("Last-Modified", -86400), hd("Date", 0)}},
		{status: 410, expect: "cached"},
	}},
	{id: "heuristic-414-cached", kind: "optimal", steps: []step{
		{status: 414, resp: []field{hd("Last-Modified", -86400), hd("Date", 0)}},
		{status: 414, expect: "cached"},
	}},
	{id: "heuristic-501-cached", kind: "optimal", steps: []step{
		{status: 501, resp: []field{hd("Last-Modified", -86400), hd("Date", 0)}},
		{status: 501, expect: "cached"},
	}},
	{id: "heuristic-502-not_cached", kind: "required", steps: []step{
		{status: 502, resp: []field{hd("Last-Modified", -86400), hd("Date", 0)}},
		{status: 502, expect: "not_cached"},
	}},
	{id: "heuristic-503-not_cached", kind: "required", steps: []step{
		{status: 503, resp: []field{hd("Last-Modified", -86400), hd("Date", 0)}},
		{status: 503, expect: "not_cached"},
	}},
	{id: "heuristic-504-not_cached", kind: "required", steps: []step{
		{status: 504, resp: []field{hd("Last-Modified", -86400), hd("Date", 0)}},
		{status: 504, expect: "not_cached"},
	}},
	{id: "heuristic-599-not_cached", kind: "required", steps: []step{
		{status: 599, resp: []field{hd("Last-Modified", -86400), hd("Date", 0)}},
		{status: 599, expect: "not_cached"},
	}},
	{id: "heuristic-599-cached", kind: "optimal", steps: []step{
		{status: 599, resp: []field{hd("Last-Modified", -86400), hd("Date", 0), hf("Cache-Control", "public")}},
		{status: 599, expect: "cached"},
	}},
	{id: "heuristic-delta-5", kind: "check", steps: []step{
		{resp: []field{hd("Last-Modified", -5), hd("Date", 0)}, pause: true},
		{expect: "cached"},
	}},
	{id: "heuristic-delta-10", kind: "check", steps: []step{
		{resp: []field{hd("Last-Modified", -10), hd("Date", 0)}, pause: true},
		{expect: "cached"},
	}},
	{id: "heuristic-delta-30", kind: "check", steps: []step{
		{resp: []field{hd("Last-Modified", -30), hd("Date", 0)}, pause: true},
		{expect: "cached"},
	}},
	{id: "heuristic-delta-60", kind: "check", steps: []step{
		{resp: []field{hd("Last-Modified", -60), hd("Date", 0)}, pause: true},
		{expect: "cached"},
	}},
	{id: "heuristic-delta-300", kind: "check", steps: []step{
		{resp: []field{hd("Last-Modified", -300), hd("Date", 0)}, pause: true},
		{expect: "cached"},
	}},
	{id: "heuristic-delta-600", kind: "check", steps: []step{
		{resp: []field{hd("Last-Modified", -600), hd("Date", 0)}, pause: true},
		{expect: "cached"},
	}},
	{id: "heuristic-delta-1200", kind: "check", steps: []step{
		{resp: []field{hd("Last-Modified", -1200), hd("Date", 0)}, pause: true},
		{expect: "cached"},
	}},
	{id: "heuristic-delta-1800", kind: "check", steps: []step{
		{resp: []field{hd("Last-Modified", -1800), hd("Date", 0)}, pause: true},
		{expect: "cached"},
	}},
	{id: "heuristic-delta-3600", kind: "check", steps: []step{
		{resp: []field{hd("Last-Modified", -3600), hd("Date", 0)}, pause: true},
		{expect: "cached"},
	}},
	{id: "heuristic-delta-43200", kind: "check", steps: []step{
		{resp: []field{hd("Last-Modified", -43200), hd("Date", 0)}, pause: true},
		{expect: "cached"},
	}},
	{id: "heuristic-delta-86400", kind: "check", steps: []step{
		{resp: []field{hd("Last-Modified", -86400), hd("Date", 0)}, pause: true},
		{expect: "cached"},
	}},
}
