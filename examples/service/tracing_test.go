package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// exportedSpan is the part of a span that stdouttrace writes which the
// tests read.
type exportedSpan struct {
	Name        string
	SpanContext struct{ SpanID string }
	Parent      struct{ SpanID string }
	Links       []struct{ SpanContext struct{ SpanID string } }
}

// readSpans decodes the spans stdouttrace wrote to r, one JSON object each.
func readSpans(t *testing.T, r io.Reader) []exportedSpan {
	t.Helper()
	var spans []exportedSpan
	dec := json.NewDecoder(r)
	for {
		var s exportedSpan
		err := dec.Decode(&s)
		if errors.Is(err, io.EOF) {
			return spans
		}
		require.NoError(t, err)
		spans = append(spans, s)
	}
}

// TestTraceWritesOneQuerySpanUnderTheRequestThatStartedIt sends requests
// for one product at once, with tracing on: the spans written are one per
// request and one for the query they shared, a child of one request's span,
// linked to the others'.
func TestTraceWritesOneQuerySpanUnderTheRequestThatStartedIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		cfg := testConfig()
		cfg.latency = 50 * time.Millisecond
		var err error
		cfg.tracing, err = newTracing(&out)
		require.NoError(t, err)
		svc, err := newService(t.Context(), cfg, quietLog)
		require.NoError(t, err)
		h := cfg.tracing.wrap(svc.handler())

		const requests = 5
		var wg sync.WaitGroup
		for range requests {
			wg.Go(func() {
				r := httptest.NewRecorder()
				h.ServeHTTP(r, httptest.NewRequest(http.MethodGet, "/product?id=7", nil))
				assert.Equal(t, http.StatusOK, r.Code)
			})
		}
		wg.Wait()
		require.NoError(t, svc.Close())
		require.NoError(t, cfg.tracing.shutdown(context.Background()))

		var loads []exportedSpan
		requestSpans := make(map[string]bool)
		for _, s := range readSpans(t, &out) {
			switch s.Name {
			case "flightcache.load":
				loads = append(loads, s)
			case "GET /product":
				requestSpans[s.SpanContext.SpanID] = true
			}
		}
		require.Len(t, requestSpans, requests)
		require.Len(t, loads, 1, "one query, one span")
		load := loads[0]
		assert.True(t, requestSpans[load.Parent.SpanID], "the query's span is a request's child")
		linked := map[string]bool{load.Parent.SpanID: true}
		for _, l := range load.Links {
			linked[l.SpanContext.SpanID] = true
		}
		assert.Equal(t, requestSpans, linked, "linked to every other request")
	})
}

func TestTraceFlag(t *testing.T) {
	cfg, err := parseFlags([]string{"-trace"}, io.Discard)
	require.NoError(t, err)
	assert.True(t, cfg.trace)
	assert.Nil(t, cfg.tracing, "run makes the tracing")
}
