package main

import (
	"context"
	"io"
	"net/http"

	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/flightcache/flightcache"
	"github.com/flightcache/flightcache/exporters/flightotel"
)

// tracing is what -trace turns on: an OpenTelemetry tracer provider that
// writes spans as JSON to an io.Writer, a span per request, and the
// Loader's Tracer, which adds a span per database query (one for all the
// requests that waited on it) under the span of the request that started
// it, linked to the others. A nil *tracing traces nothing.
type tracing struct {
	tp       *sdktrace.TracerProvider
	requests trace.Tracer
}

// newTracing returns tracing whose spans are written to w, in batches and
// at shutdown.
func newTracing(w io.Writer) (*tracing, error) {
	exp, err := stdouttrace.New(stdouttrace.WithWriter(w), stdouttrace.WithPrettyPrint())
	if err != nil {
		return nil, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
	return &tracing{tp: tp, requests: tp.Tracer("github.com/flightcache/flightcache/examples/service")}, nil
}

// loadTracer returns the Tracer of the Loader called name, nil when t is.
func (t *tracing) loadTracer(name string) flightcache.Tracer {
	if t == nil {
		return nil
	}
	return flightotel.NewTracer(t.tp, name)
}

// wrap returns h with a span per request, or h itself when t is nil.
func (t *tracing) wrap(h http.Handler) http.Handler {
	if t == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := t.requests.Start(r.Context(), r.Method+" "+r.URL.Path, trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// shutdown writes the spans not written yet and stops the provider.
func (t *tracing) shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.tp.Shutdown(ctx)
}
