module github.com/flightcache/flightcache/adapters/tiered

go 1.25

require (
	github.com/flightcache/flightcache v0.1.0
	github.com/flightcache/flightcache/adapters/redisstore v0.1.0
	github.com/redis/go-redis/v9 v9.22.0
	github.com/stretchr/testify v1.12.1
	go.uber.org/goleak v1.3.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/hashicorp/golang-lru/v2 v2.0.7 // indirect
	github.com/puzpuzpuz/xsync/v4 v4.5.0 // indirect
	github.com/sony/gobreaker/v2 v2.4.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sys v0.30.0 // indirect
)

// Development: our own modules come from this checkout, so that the module
// builds and tidies alone (go mod tidy ignores go.work). A replace applies
// only to the main module: users of this one never see it.
replace (
	github.com/flightcache/flightcache => ../..
	github.com/flightcache/flightcache/adapters/redisstore => ../redisstore
)
