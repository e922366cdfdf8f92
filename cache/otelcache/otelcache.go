// Package otelcache records what a cache.Adapter does as OpenTelemetry
// metrics and spans.
//
// Wrap returns an adapter that forwards every call and records, per
// operation:
//
//   - a span named "<name>.<Op>" (for example "cache.Get"), a child of the
//     span in the call's context, with the attribute cache.name; reads add
//     cache.hit (GetMany: cache.keys and cache.hits). A call that fails
//     sets the span's status to Error and records the error; a miss is not
//     an error.
//   - the histogram cache.operation.duration, in seconds, with the
//     attributes cache.name, op (the method name, such as "Get") and
//     outcome: "hit" or "miss" for Get, View, Has, Delete (whether the
//     entry existed) and GetWithTTL, "ok" for the other operations, and
//     "error" for any call that failed.
//   - the counters cache.hits and cache.misses (attributes cache.name and
//     op), per key for GetMany, and cache.errors.
//
// Keys and values are never recorded: they may be personal data.
//
// The wrapper implements exactly the optional capabilities of the adapter it
// wraps (cache.Incrementer, cache.Batcher, cache.Viewer, cache.Sweeper and
// cache.TTLGetter), so wrapping changes neither what the helpers of package
// cache do nor what a cache.Chain can do with it. Unwrap returns the wrapped
// adapter.
//
// Package cache itself does not depend on OpenTelemetry; only programs that
// import this package do.
package otelcache

//go:generate go run gen.go

import (
	"context"
	"errors"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the meter and tracer.
const ScopeName = "github.com/cachelib-go/cachelib/cache/otelcache"

// DefaultName is the cache.name attribute and span name prefix unless
// WithName says otherwise.
const DefaultName = "cache"

// Option configures Wrap.
type Option func(*config)

type config struct {
	mp   metric.MeterProvider
	tp   trace.TracerProvider
	name string
}

// WithMeterProvider sets where metrics go; the default is the global
// provider, otel.GetMeterProvider().
func WithMeterProvider(mp metric.MeterProvider) Option { return func(c *config) { c.mp = mp } }

// WithTracerProvider sets where spans go; the default is the global
// provider, otel.GetTracerProvider().
func WithTracerProvider(tp trace.TracerProvider) Option { return func(c *config) { c.tp = tp } }

// WithName names the cache, to tell several apart: it is the value of the
// cache.name attribute and the prefix of span names. The default is
// DefaultName.
func WithName(name string) Option { return func(c *config) { c.name = name } }

// Unwrapper is implemented by the adapters Wrap returns.
type Unwrapper interface {
	// Unwrap returns the wrapped adapter.
	Unwrap() cache.Adapter
}

// Outcomes of an operation, the outcome attribute of the duration histogram.
const (
	OutcomeHit   = "hit"
	OutcomeMiss  = "miss"
	OutcomeOK    = "ok"
	OutcomeError = "error"
)

type op int

const (
	opGet op = iota
	opView
	opGetWithTTL
	opHas
	opSet
	opAdd
	opDelete
	opClear
	opIncrement
	opGetMany
	opSetMany
	opDeleteMany
	opDeleteExpired
	numOps
)

var opNames = [numOps]string{"Get", "View", "GetWithTTL", "Has", "Set", "Add", "Delete", "Clear",
	"Increment", "GetMany", "SetMany", "DeleteMany", "DeleteExpired"}

var outcomes = []string{OutcomeHit, OutcomeMiss, OutcomeOK, OutcomeError}

// wrapper holds the adapter and its instruments. The attribute sets are
// built once, in Wrap, so a call allocates nothing for them.
type wrapper struct {
	a        cache.Adapter
	tracer   trace.Tracer
	duration metric.Float64Histogram
	hits     metric.Int64Counter
	misses   metric.Int64Counter
	errs     metric.Int64Counter

	spanNames [numOps]string
	byOutcome [numOps]map[string]metric.MeasurementOption
	byOp      [numOps]metric.MeasurementOption
	nameAttr  attribute.KeyValue
}

// Wrap returns an adapter that forwards every call to a and records it; see
// the package documentation. The wrapper stands for a: its Close closes a
// (unrecorded). Instruments that cannot be created (an SDK
// error) are replaced by no-op ones, so Wrap never fails.
func Wrap(a cache.Adapter, opts ...Option) cache.Adapter {
	cfg := config{name: DefaultName}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.mp == nil {
		cfg.mp = otel.GetMeterProvider()
	}
	if cfg.tp == nil {
		cfg.tp = otel.GetTracerProvider()
	}
	meter := cfg.mp.Meter(ScopeName)
	w := &wrapper{a: a, tracer: cfg.tp.Tracer(ScopeName), nameAttr: attribute.String("cache.name", cfg.name)}
	var err error
	if w.duration, err = meter.Float64Histogram("cache.operation.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of cache operations.")); err != nil {
		otel.Handle(err)
	}
	if w.hits, err = meter.Int64Counter("cache.hits", metric.WithDescription("Keys found by reads.")); err != nil {
		otel.Handle(err)
	}
	if w.misses, err = meter.Int64Counter("cache.misses", metric.WithDescription("Keys not found by reads.")); err != nil {
		otel.Handle(err)
	}
	if w.errs, err = meter.Int64Counter("cache.errors", metric.WithDescription("Cache operations that failed.")); err != nil {
		otel.Handle(err)
	}
	for o := range numOps {
		name := attribute.String("op", opNames[o])
		w.spanNames[o] = cfg.name + "." + opNames[o]
		w.byOp[o] = metric.WithAttributeSet(attribute.NewSet(w.nameAttr, name))
		w.byOutcome[o] = make(map[string]metric.MeasurementOption, len(outcomes))
		for _, out := range outcomes {
			w.byOutcome[o][out] = metric.WithAttributeSet(attribute.NewSet(w.nameAttr, name, attribute.String("outcome", out)))
		}
	}
	return withCapabilities(w, capabilitiesOf(a))
}

// The capabilities a wrapper passes through, as bits of a mask.
const (
	capIncrementer = 1 << iota
	capBatcher
	capViewer
	capSweeper
	capTTLGetter
)

func capabilitiesOf(a cache.Adapter) int {
	m := 0
	if _, ok := a.(cache.Incrementer); ok {
		m |= capIncrementer
	}
	if _, ok := a.(cache.Batcher); ok {
		m |= capBatcher
	}
	if _, ok := a.(cache.Viewer); ok {
		m |= capViewer
	}
	if _, ok := a.(cache.Sweeper); ok {
		m |= capSweeper
	}
	if _, ok := a.(cache.TTLGetter); ok {
		m |= capTTLGetter
	}
	return m
}

// call is one recorded operation.
type call struct {
	w     *wrapper
	op    op
	span  trace.Span
	start time.Time
}

func (w *wrapper) begin(ctx context.Context, o op) (context.Context, call) {
	ctx, span := w.tracer.Start(ctx, w.spanNames[o], trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(w.nameAttr))
	return ctx, call{w: w, op: o, span: span, start: time.Now()}
}

// end records the call. outcome is ignored when err is not nil.
func (c call) end(ctx context.Context, outcome string, err error) {
	if err != nil {
		outcome = OutcomeError
		c.span.RecordError(err)
		c.span.SetStatus(codes.Error, err.Error())
		c.w.errs.Add(ctx, 1, c.w.byOp[c.op])
	}
	c.w.duration.Record(ctx, time.Since(c.start).Seconds(), c.w.byOutcome[c.op][outcome])
	c.span.End()
}

// read ends a call that looked one key up.
func (c call) read(ctx context.Context, hit bool, err error) {
	if err == nil {
		c.span.SetAttributes(attribute.Bool("cache.hit", hit))
		if hit {
			c.w.hits.Add(ctx, 1, c.w.byOp[c.op])
		} else {
			c.w.misses.Add(ctx, 1, c.w.byOp[c.op])
		}
	}
	outcome := OutcomeMiss
	if hit {
		outcome = OutcomeHit
	}
	c.end(ctx, outcome, err)
}

// lookup ends a call whose miss comes as cache.ErrNotFound, which is then
// not an error.
func (c call) lookup(ctx context.Context, err error) {
	if errors.Is(err, cache.ErrNotFound) {
		c.read(ctx, false, nil)
		return
	}
	c.read(ctx, err == nil, err)
}

func (w *wrapper) Unwrap() cache.Adapter { return w.a }

func (w *wrapper) Get(ctx context.Context, key string) ([]byte, error) {
	ctx, c := w.begin(ctx, opGet)
	v, err := w.a.Get(ctx, key)
	c.lookup(ctx, err)
	return v, err
}

func (w *wrapper) Has(ctx context.Context, key string) (bool, error) {
	ctx, c := w.begin(ctx, opHas)
	ok, err := w.a.Has(ctx, key)
	c.read(ctx, ok, err)
	return ok, err
}

func (w *wrapper) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	ctx, c := w.begin(ctx, opSet)
	err := w.a.Set(ctx, key, value, ttl)
	c.end(ctx, OutcomeOK, err)
	return err
}

func (w *wrapper) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	ctx, c := w.begin(ctx, opAdd)
	added, err := w.a.Add(ctx, key, value, ttl)
	if err == nil {
		c.span.SetAttributes(attribute.Bool("cache.added", added))
	}
	c.end(ctx, OutcomeOK, err)
	return added, err
}

func (w *wrapper) Delete(ctx context.Context, key string) (bool, error) {
	ctx, c := w.begin(ctx, opDelete)
	existed, err := w.a.Delete(ctx, key)
	outcome := OutcomeMiss
	if existed {
		outcome = OutcomeHit
	}
	c.end(ctx, outcome, err)
	return existed, err
}

func (w *wrapper) Clear(ctx context.Context) error {
	ctx, c := w.begin(ctx, opClear)
	err := w.a.Clear(ctx)
	c.end(ctx, OutcomeOK, err)
	return err
}

// Close closes the wrapped adapter; it is not recorded.
func (w *wrapper) Close() error { return w.a.Close() }

// The capability parts below each hold the wrapper and add the methods of
// one optional interface; withCapabilities (generated) embeds exactly the
// parts the wrapped adapter has.

type incrementer struct{ w *wrapper }

func (p incrementer) Increment(ctx context.Context, key string, delta int64) (int64, error) {
	ctx, c := p.w.begin(ctx, opIncrement)
	n, err := p.w.a.(cache.Incrementer).Increment(ctx, key, delta)
	c.end(ctx, OutcomeOK, err)
	return n, err
}

type batcher struct{ w *wrapper }

func (p batcher) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	ctx, c := p.w.begin(ctx, opGetMany)
	hits, err := p.w.a.(cache.Batcher).GetMany(ctx, keys)
	if err == nil {
		c.span.SetAttributes(attribute.Int("cache.keys", len(keys)), attribute.Int("cache.hits", len(hits)))
		p.w.hits.Add(ctx, int64(len(hits)), p.w.byOp[opGetMany])
		p.w.misses.Add(ctx, int64(len(keys)-len(hits)), p.w.byOp[opGetMany])
	}
	c.end(ctx, OutcomeOK, err)
	return hits, err
}

func (p batcher) SetMany(ctx context.Context, items map[string][]byte, ttl time.Duration) error {
	ctx, c := p.w.begin(ctx, opSetMany)
	err := p.w.a.(cache.Batcher).SetMany(ctx, items, ttl)
	c.end(ctx, OutcomeOK, err)
	return err
}

func (p batcher) DeleteMany(ctx context.Context, keys []string) (int, error) {
	ctx, c := p.w.begin(ctx, opDeleteMany)
	n, err := p.w.a.(cache.Batcher).DeleteMany(ctx, keys)
	c.end(ctx, OutcomeOK, err)
	return n, err
}

type viewer struct{ w *wrapper }

// View records a miss as a miss and fn's error as an error.
func (p viewer) View(ctx context.Context, key string, fn func(value []byte) error) error {
	ctx, c := p.w.begin(ctx, opView)
	err := p.w.a.(cache.Viewer).View(ctx, key, fn)
	c.lookup(ctx, err)
	return err
}

type sweeper struct{ w *wrapper }

func (p sweeper) DeleteExpired(ctx context.Context) (int, error) {
	ctx, c := p.w.begin(ctx, opDeleteExpired)
	n, err := p.w.a.(cache.Sweeper).DeleteExpired(ctx)
	c.end(ctx, OutcomeOK, err)
	return n, err
}

type ttlGetter struct{ w *wrapper }

func (p ttlGetter) GetWithTTL(ctx context.Context, key string) ([]byte, time.Duration, error) {
	ctx, c := p.w.begin(ctx, opGetWithTTL)
	v, ttl, err := p.w.a.(cache.TTLGetter).GetWithTTL(ctx, key)
	c.lookup(ctx, err)
	return v, ttl, err
}
