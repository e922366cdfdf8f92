package otelcache_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/memorycache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
	"github.com/cachelib-go/cachelib/cache/otelcache"
	"github.com/cachelib-go/cachelib/filecache"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// providers returns SDK providers whose metrics and spans the test reads.
func providers(t *testing.T) (*sdkmetric.ManualReader, *tracetest.SpanRecorder, []otelcache.Option) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() {
		mp.Shutdown(context.Background())
		tp.Shutdown(context.Background())
	})
	return reader, spans, []otelcache.Option{otelcache.WithMeterProvider(mp), otelcache.WithTracerProvider(tp)}
}

func newMemory(t *testing.T) *memorycache.Cache {
	t.Helper()
	m, err := memorycache.New()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestConformance(t *testing.T) {
	t.Run("memorycache", func(t *testing.T) {
		_, _, opts := providers(t)
		cachetest.Run(t, func(t *testing.T) cache.Adapter {
			return otelcache.Wrap(newMemory(t), opts...)
		})
	})
	t.Run("filecache", func(t *testing.T) {
		_, _, opts := providers(t)
		cachetest.Run(t, func(t *testing.T) cache.Adapter {
			f, err := filecache.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return otelcache.Wrap(f, opts...)
		})
	})
	t.Run("global providers", func(t *testing.T) {
		cachetest.Run(t, func(t *testing.T) cache.Adapter {
			return otelcache.Wrap(newMemory(t))
		})
	})
}

// full has every optional capability.
type full interface {
	cache.Adapter
	cache.Incrementer
	cache.Batcher
	cache.Viewer
	cache.Sweeper
	cache.TTLGetter
}

// withTTL adds a GetWithTTL to a filecache, which has the other four
// capabilities. It reports a fixed TTL: the test only checks that the
// wrapper passes calls and results through.
type withTTL struct{ *filecache.Cache }

const fixedTTL = 42 * time.Second

func (w withTTL) GetWithTTL(ctx context.Context, key string) ([]byte, time.Duration, error) {
	v, err := w.Get(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	return v, fixedTTL, nil
}

func TestCapabilitiesPassThrough(t *testing.T) {
	f, err := filecache.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	base := withTTL{f}
	ctx := t.Context()
	if err := base.Set(ctx, "k", []byte("7"), 0); err != nil {
		t.Fatal(err)
	}
	for mask := range numMasks {
		_, spans, opts := providers(t)
		w := otelcache.Wrap(hide(base, mask), opts...)
		if u, ok := w.(otelcache.Unwrapper); !ok || u.Unwrap() == nil {
			t.Fatalf("mask %05b: the wrapper has no Unwrap", mask)
		}
		checks := []struct {
			name string
			has  bool
			call func() (string, error) // returns the span name it should record
		}{
			{"Incrementer", func() bool { _, ok := w.(cache.Incrementer); return ok }(), func() (string, error) {
				n, err := w.(cache.Incrementer).Increment(ctx, "k", 0)
				if err == nil && n != 7 {
					err = fmt.Errorf("Increment = %d, want 7", n)
				}
				return "cache.Increment", err
			}},
			{"Batcher", func() bool { _, ok := w.(cache.Batcher); return ok }(), func() (string, error) {
				hits, err := w.(cache.Batcher).GetMany(ctx, []string{"k", "missing"})
				if err == nil && string(hits["k"]) != "7" {
					err = fmt.Errorf("GetMany = %q", hits)
				}
				return "cache.GetMany", err
			}},
			{"Viewer", func() bool { _, ok := w.(cache.Viewer); return ok }(), func() (string, error) {
				return "cache.View", w.(cache.Viewer).View(ctx, "k", func([]byte) error { return nil })
			}},
			{"Sweeper", func() bool { _, ok := w.(cache.Sweeper); return ok }(), func() (string, error) {
				_, err := w.(cache.Sweeper).DeleteExpired(ctx)
				return "cache.DeleteExpired", err
			}},
			{"TTLGetter", func() bool { _, ok := w.(cache.TTLGetter); return ok }(), func() (string, error) {
				_, ttl, err := w.(cache.TTLGetter).GetWithTTL(ctx, "k")
				if err == nil && ttl != fixedTTL {
					err = fmt.Errorf("GetWithTTL ttl = %v, want %v", ttl, fixedTTL)
				}
				return "cache.GetWithTTL", err
			}},
		}
		for bit, c := range checks {
			want := mask&(1<<bit) != 0
			if c.has != want {
				t.Errorf("mask %05b: wrapper implements %s = %v, the wrapped adapter %v", mask, c.name, c.has, want)
				continue
			}
			if !c.has {
				continue
			}
			span, err := c.call()
			if err != nil {
				t.Errorf("mask %05b: %s: %v", mask, c.name, err)
			}
			ended := spans.Ended()
			if len(ended) == 0 || ended[len(ended)-1].Name() != span {
				t.Errorf("mask %05b: %s recorded no span %q", mask, c.name, span)
			}
		}
	}
}

// collect reads every metric the wrapper recorded, by name.
func collect(t *testing.T, r *sdkmetric.ManualReader) map[string][]metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string][]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelcache.ScopeName {
			t.Errorf("scope %q, want %q", sm.Scope.Name, otelcache.ScopeName)
		}
		for _, m := range sm.Metrics {
			out[m.Name] = append(out[m.Name], m.Data)
		}
	}
	return out
}

// counter returns the value of the int64 counter name at attrs.
func counter(t *testing.T, got map[string][]metricdata.Aggregation, name string, attrs ...attribute.KeyValue) int64 {
	t.Helper()
	want := attribute.NewSet(attrs...)
	for _, a := range got[name] {
		for _, dp := range a.(metricdata.Sum[int64]).DataPoints {
			if dp.Attributes.Equals(&want) {
				return dp.Value
			}
		}
	}
	return 0
}

// histogramCount returns how many durations were recorded with attrs.
func histogramCount(t *testing.T, got map[string][]metricdata.Aggregation, attrs ...attribute.KeyValue) uint64 {
	t.Helper()
	want := attribute.NewSet(attrs...)
	for _, a := range got["cache.operation.duration"] {
		for _, dp := range a.(metricdata.Histogram[float64]).DataPoints {
			if dp.Attributes.Equals(&want) {
				return dp.Count
			}
		}
	}
	return 0
}

func TestMetrics(t *testing.T) {
	reader, _, opts := providers(t)
	m := newMemory(t)
	w := otelcache.Wrap(m, append(opts, otelcache.WithName("sessions"))...)
	defer w.Close()
	ctx := t.Context()
	if err := w.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	w.Get(ctx, "k")
	w.Get(ctx, "k")
	w.Get(ctx, "missing")
	cache.GetMany(ctx, w, []string{"k", "a", "b"})
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := w.Get(canceled, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with a cancelled context = %v", err)
	}

	got := collect(t, reader)
	name := attribute.String("cache.name", "sessions")
	op := func(o string) attribute.KeyValue { return attribute.String("op", o) }
	outcome := func(o string) attribute.KeyValue { return attribute.String("outcome", o) }
	for _, c := range []struct {
		what string
		got  int64
		want int64
	}{
		{"Get hits", int64(histogramCount(t, got, name, op("Get"), outcome("hit"))), 2},
		{"Get misses", int64(histogramCount(t, got, name, op("Get"), outcome("miss"))), 1},
		{"Get errors", int64(histogramCount(t, got, name, op("Get"), outcome("error"))), 1},
		{"Set ok", int64(histogramCount(t, got, name, op("Set"), outcome("ok"))), 1},
		{"cache.hits{Get}", counter(t, got, "cache.hits", name, op("Get")), 2},
		{"cache.misses{Get}", counter(t, got, "cache.misses", name, op("Get")), 1},
		{"cache.errors{Get}", counter(t, got, "cache.errors", name, op("Get")), 1},
		{"cache.hits{GetMany}", counter(t, got, "cache.hits", name, op("GetMany")), 1},
		{"cache.misses{GetMany}", counter(t, got, "cache.misses", name, op("GetMany")), 2},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.what, c.got, c.want)
		}
	}
}

func TestSpans(t *testing.T) {
	_, spans, opts := providers(t)
	ctx := t.Context()
	// A parent span from the same provider, to check nesting.
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer tp.Shutdown(context.Background())
	ctx, parent := tp.Tracer("test").Start(ctx, "request")
	w := otelcache.Wrap(newMemory(t), opts...)
	defer w.Close()
	w.Get(ctx, "missing")
	w.Set(ctx, "k", []byte("v"), -time.Second) // an invalid TTL: an error
	parent.End()

	ended := spans.Ended()
	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range ended {
		byName[s.Name()] = s
	}
	miss, bad := byName["cache.Get"], byName["cache.Set"]
	if miss == nil || bad == nil {
		t.Fatalf("spans recorded: %v", ended)
	}
	if miss.Status().Code != codes.Unset {
		t.Errorf("a miss set the span status to %v, want Unset: a miss is not an error", miss.Status())
	}
	if !hasAttr(miss, attribute.Bool("cache.hit", false)) {
		t.Errorf("miss span attributes %v lack cache.hit=false", miss.Attributes())
	}
	if bad.Status().Code != codes.Error || !strings.Contains(bad.Status().Description, "TTL") {
		t.Errorf("a failed Set has span status %v, want Error with the message", bad.Status())
	}
	if miss.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Error("the cache span is not a child of the span in the call's context")
	}
}

func hasAttr(s sdktrace.ReadOnlySpan, kv attribute.KeyValue) bool {
	for _, a := range s.Attributes() {
		if a == kv {
			return true
		}
	}
	return false
}

// Package cache must stay free of OpenTelemetry and Prometheus: only
// programs that import otelcache pay for them.
func TestCoreDoesNotImportTelemetry(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to list dependencies with: %v", err)
	}
	out, err := exec.Command(goCmd, "list", "-deps", "github.com/cachelib-go/cachelib/cache").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	for _, d := range deps {
		if strings.HasPrefix(d, "go.opentelemetry.io/") || strings.Contains(d, "prometheus") {
			t.Errorf("package cache depends on %s", d)
		}
	}
	if len(deps) < 10 {
		t.Fatalf("go list -deps printed %d packages, expected the standard library ones at least: %q", len(deps), out)
	}
}

// Wrap an adapter once, where it is made; everything that uses it is then
// measured. Without WithMeterProvider and WithTracerProvider the global
// providers are used.
func ExampleWrap() {
	mem, err := memorycache.New()
	if err != nil {
		panic(err)
	}
	a := otelcache.Wrap(mem, otelcache.WithName("pages"))
	defer a.Close() // closes mem too

	ctx := context.Background()
	_ = a.Set(ctx, "home", []byte("<html>"), time.Minute)
	_, incr := a.(cache.Incrementer) // capabilities pass through
	v, err := a.Get(ctx, "home")
	fmt.Println(string(v), err, incr)
	// Output: <html> <nil> true
}
