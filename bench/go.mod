module github.com/flightcache/flightcache/bench

go 1.25

require (
	github.com/Yiling-J/theine-go v0.6.3
	github.com/dgraph-io/ristretto/v2 v2.4.2
	github.com/flightcache/flightcache v0.1.0
	github.com/flightcache/flightcache/adapters/otterstore v0.1.0
	github.com/flightcache/flightcache/adapters/ristrettostore v0.1.0
	github.com/hashicorp/golang-lru/v2 v2.0.7
	github.com/maypok86/otter/v2 v2.4.0
	github.com/viccon/sturdyc v1.1.5
	golang.org/x/sync v0.17.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/dustin/go-humanize v1.0.1 // indirect
	github.com/klauspost/cpuid/v2 v2.0.9 // indirect
	github.com/puzpuzpuz/xsync/v4 v4.5.0 // indirect
	github.com/zeebo/xxh3 v1.0.2 // indirect
	golang.org/x/sys v0.36.0 // indirect
)

// Development: our own modules come from this checkout, so that the module
// builds and tidies alone (go mod tidy ignores go.work). A replace applies
// only to the main module: users of this one never see it.
replace (
	github.com/flightcache/flightcache => ..
	github.com/flightcache/flightcache/adapters/otterstore => ../adapters/otterstore
	github.com/flightcache/flightcache/adapters/ristrettostore => ../adapters/ristrettostore
)
