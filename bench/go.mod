module github.com/flightcache/flightcache/bench

go 1.25

require github.com/flightcache/flightcache v0.0.0

require github.com/hashicorp/golang-lru/v2 v2.0.7 // indirect

replace github.com/flightcache/flightcache => ../
