package flightotel_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/adapters/lrustore"
	"github.com/flightcache/flightcache/exporters/flightotel"
)

func ExampleNew() {
	// In a service, the application sets the global provider once, with a
	// periodic reader and an OTLP exporter; a manual reader shows the
	// figures here.
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())
	otel.SetMeterProvider(provider)

	rec, err := flightotel.New(nil, "users", nil) // nil: the global provider
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

	load := func(_ context.Context, id int) (string, error) {
		if id < 0 {
			return "", errors.New("database down")
		}
		return fmt.Sprint("user-", id), nil
	}
	for range 3 {
		users.GetOrLoad(context.Background(), 1, load)
	}
	users.GetOrLoad(context.Background(), -1, load) // fails: a load with error.type _OTHER

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		panic(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch data := m.Data.(type) {
			case metricdata.Sum[int64]:
				if m.Name != "flightcache.hits" && m.Name != "flightcache.loads" {
					continue
				}
				for _, dp := range data.DataPoints {
					if et, ok := dp.Attributes.Value(semconv.ErrorTypeKey); ok {
						fmt.Printf("%s{error.type=%s} %d\n", m.Name, et.AsString(), dp.Value)
					} else {
						fmt.Println(m.Name, dp.Value)
					}
				}
			case metricdata.Histogram[float64]:
				for _, dp := range data.DataPoints {
					if _, failed := dp.Attributes.Value(semconv.ErrorTypeKey); !failed {
						fmt.Println(m.Name, "count", dp.Count)
					}
				}
			}
		}
	}
	// Unordered output:
	// flightcache.load.duration count 1
	// flightcache.hits 2
	// flightcache.loads 1
	// flightcache.loads{error.type=timeout} 0
	// flightcache.loads{error.type=panic} 0
	// flightcache.loads{error.type=_OTHER} 1
}
