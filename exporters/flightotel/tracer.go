package flightotel

import (
	"context"
	"slices"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/flightcache/flightcache"
)

// SpanName is the name of the span of a call of a Loader's source.
const SpanName = "flightcache.load"

// The attributes of a load span, beside NameKey and, on failure,
// error.type.
const (
	// KeysKey is the number of keys the call loads: 1 for a LoadFunc.
	KeysKey = attribute.Key("flightcache.keys")
	// FillKey is the kind of fill: FillLoad, FillBatch or FillRefresh.
	FillKey = attribute.Key("flightcache.fill")
	// ServedKey is how the callers the call is for are served
	// (flightcache.Served): "loaded" for a miss, "stale" for a refresh.
	ServedKey = attribute.Key("flightcache.served")
	// FailedKey says whether the call failed.
	FailedKey = attribute.Key("flightcache.failed")
	// WaitersKey is how many callers waited on the call besides the one
	// whose load it is, once per key they waited for; at most
	// flightcache.MaxLinks of them are linked.
	WaitersKey = attribute.Key("flightcache.waiters")
)

// The values of FillKey.
const (
	FillLoad    = "load"    // a LoadFunc called for a miss
	FillBatch   = "batch"   // a BatchLoadFunc called for misses (GetOrLoadMany, a Batcher)
	FillRefresh = "refresh" // a refresh, background or Loader.Refresh, by either kind of source
)

// tracer is the flightcache.Tracer that NewTracer returns.
type tracer struct {
	t    trace.Tracer
	name attribute.KeyValue
}

// NewTracer returns a [flightcache.Tracer], for Options.Tracer, that
// records one span named [SpanName] per call of the Loader's source,
// through the Tracer that tp gives for [ScopeName]. A nil tp means the
// global provider, [otel.GetTracerProvider], which follows a provider set
// later with otel.SetTracerProvider.
//
// The span is a child of the span in the context of the caller whose load
// it is (the caller that started it, the first caller of a Batcher's
// window, or the reader that found the key stale), and the source's
// context holds it, so that the spans of the database calls the source
// makes are its children. It is linked to the span of each other caller
// that waited on the call (at most flightcache.MaxLinks, each span once, the
// parent's not at all), and counts them all in [WaitersKey]. Its attributes
// are NameKey (name, the Loader's name), [KeysKey], [FillKey] and
// [ServedKey] from the start, then [FailedKey] and [WaitersKey]; a failed
// call also has error.type (as the Recorder's metrics: timeout, panic or
// _OTHER), the error recorded as an event, and the status Error. A hit has
// no span, nor has a fill that found its keys in the Store or waited on
// another instance's lease.
//
// A span that the provider's sampler drops costs what an unsampled span
// costs, and no links.
func NewTracer(tp trace.TracerProvider, name string) flightcache.Tracer {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return &tracer{t: tp.Tracer(ScopeName), name: NameKey.String(name)}
}

// StartLoad starts the span of a call of the source.
func (t *tracer) StartLoad(ctx context.Context, info flightcache.LoadInfo) (context.Context, flightcache.LoadSpan) {
	fill := FillLoad
	switch {
	case info.Served == flightcache.ServedStale:
		fill = FillRefresh
	case info.Batch:
		fill = FillBatch
	}
	parent := trace.SpanContextFromContext(ctx)
	ctx, span := t.t.Start(ctx, SpanName,
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(t.name, KeysKey.Int(info.Keys), FillKey.String(fill), ServedKey.String(info.Served.String())))
	if !span.IsRecording() {
		return ctx, nil // nothing to link or end: the Loader takes no links
	}
	return ctx, &loadSpan{span: span, parent: parent}
}

// loadSpan is the flightcache.LoadSpan of a recording span.
type loadSpan struct {
	span   trace.Span
	parent trace.SpanContext
	linked []trace.SpanContext // the spans linked so far
}

// Link links the span to the span in waiter, unless it has none, is the
// parent, or is linked already.
func (s *loadSpan) Link(waiter context.Context) {
	sc := trace.SpanContextFromContext(waiter)
	if !sc.IsValid() || sc.Equal(s.parent) || len(s.linked) >= flightcache.MaxLinks ||
		slices.ContainsFunc(s.linked, sc.Equal) {
		return
	}
	s.linked = append(s.linked, sc)
	s.span.AddLink(trace.Link{SpanContext: sc})
}

// End ends the span with the outcome of the call.
func (s *loadSpan) End(err error, waiters int) {
	s.span.SetAttributes(FailedKey.Bool(err != nil), WaitersKey.Int(waiters))
	if err != nil {
		s.span.SetAttributes(semconv.ErrorTypeKey.String(errorTypes[classify(err)]))
		s.span.RecordError(err)
		s.span.SetStatus(codes.Error, err.Error())
	}
	s.span.End()
}
