package flightotel_test

import (
	"context"
	"fmt"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/exporters/flightotel"
)

func ExampleNew() {
	// In a service, the provider is the application's, with a periodic
	// reader and an OTLP exporter; a manual reader shows the figures here.
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())

	rec, err := flightotel.New(provider, "users", nil)
	if err != nil {
		panic(err)
	}
	defer rec.Unregister()
	store, err := lrustore.New[int, string](1000)
	if err != nil {
		panic(err)
	}
	users, err := flightcache.New(store, &flightcache.Options{FreshFor: time.Minute, Recorder: rec})
	if err != nil {
		panic(err)
	}
	defer users.Close()

	load := func(_ context.Context, id int) (string, error) { return fmt.Sprint("user-", id), nil }
	for range 3 {
		users.GetOrLoad(context.Background(), 1, load)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		panic(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch data := m.Data.(type) {
			case metricdata.Sum[int64]:
				if m.Name == "flightcache.hits" || m.Name == "flightcache.loads" {
					fmt.Println(m.Name, data.DataPoints[0].Value)
				}
			case metricdata.Histogram[float64]:
				fmt.Println(m.Name, "count", data.DataPoints[0].Count)
			}
		}
	}
	// Unordered output:
	// flightcache.load.duration count 1
	// flightcache.hits 2
	// flightcache.loads 1
}
