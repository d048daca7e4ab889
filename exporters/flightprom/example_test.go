package flightprom_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/exporters/flightprom"
	"github.com/flightcache/flightcache/stats"
)

func ExampleNewForCounter() {
	store, err := lrustore.New[int, string](1000)
	if err != nil {
		panic(err)
	}
	var counter stats.Counter
	users, err := flightcache.New(store, &flightcache.Options{FreshFor: time.Minute, Recorder: &counter})
	if err != nil {
		panic(err)
	}
	defer users.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(flightprom.NewForCounter("users", &counter))
	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	load := func(_ context.Context, id int) (string, error) { return fmt.Sprint("user-", id), nil }
	for range 3 {
		users.GetOrLoad(context.Background(), 1, load)
	}

	families, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, f := range families {
		switch f.GetName() {
		case "flightcache_hits_total", "flightcache_loads_total":
			m := f.GetMetric()[0]
			fmt.Printf("%s{%s=%q} %v\n", f.GetName(), m.GetLabel()[0].GetName(), m.GetLabel()[0].GetValue(), m.GetCounter().GetValue())
		}
	}
	// Output:
	// flightcache_hits_total{name="users"} 2
	// flightcache_loads_total{name="users"} 1
}
