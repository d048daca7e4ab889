module github.com/flightcache/flightcache

go 1.25

require (
	github.com/hashicorp/golang-lru/v2 v2.0.7
	github.com/puzpuzpuz/xsync/v4 v4.5.0
	github.com/stretchr/testify v1.12.1
	go.uber.org/goleak v1.3.0
	golang.org/x/sync v0.17.0
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect
