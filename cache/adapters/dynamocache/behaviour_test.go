package dynamocache_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/cache/adapters/dynamocache"
	"github.com/cachelib-go/cachelib/cache/cachetest"
)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// rawItem reads the item stored under pk, bypassing the adapter.
func rawItem(t *testing.T, client *dynamodb.Client, table, pk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{
		TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{dynamocache.AttrKey: &types.AttributeValueMemberB{Value: []byte(pk)}},
	})
	must(t, err)
	return out.Item
}

func numAttr(t *testing.T, it map[string]types.AttributeValue, name string) int64 {
	t.Helper()
	v, ok := it[name].(*types.AttributeValueMemberN)
	if !ok {
		t.Fatalf("attribute %s = %#v, want a number", name, it[name])
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	must(t, err)
	return n
}

// The item layout documented in the package comment: what DynamoDB's TTL
// reaper and other readers of the table see.
func TestItemLayout(t *testing.T) {
	client := newClient(endpoint(t))
	table := newTable(t, client)
	p := prefix()
	c := newCache(t, client, table, dynamocache.WithPrefix(p))
	ctx := t.Context()

	cachetest.Expiring(t, 1500*time.Millisecond, dynamocache.Resolution, func(x *cachetest.Attempt) {
		before := time.Now()
		x.Set(c, "k", "10")
		it := rawItem(t, client, table, p+"k")
		if v := it[dynamocache.AttrValue].(*types.AttributeValueMemberB).Value; string(v) != "10" {
			t.Fatalf("v = %q, want \"10\"", v)
		}
		exp, ttl := numAttr(t, it, dynamocache.AttrExpiry), numAttr(t, it, dynamocache.AttrTTL)
		if low, high := before.Add(x.TTL()).UnixMilli(), time.Now().Add(x.TTL()+time.Millisecond).UnixMilli(); exp < low || exp > high {
			t.Fatalf("exp = %d, want Unix ms in [%d, %d]", exp, low, high)
		}
		if want := (exp + 999) / 1000; ttl != want {
			t.Fatalf("ttl = %d, want exp in seconds rounded up, %d", ttl, want)
		}

		// Increment turns the value into a counter and keeps the expiry.
		n, err := c.Increment(ctx, "k", 5)
		if err != nil || n != 15 {
			x.Live(fmt.Errorf("Increment = %d, %v; want 15", n, err))
		}
		it = rawItem(t, client, table, p+"k")
		if _, ok := it[dynamocache.AttrValue]; ok || numAttr(t, it, dynamocache.AttrCount) != 15 {
			t.Fatalf("item after Increment = %v, want n=15 and no v", it)
		}
		if numAttr(t, it, dynamocache.AttrExpiry) != exp || numAttr(t, it, dynamocache.AttrTTL) != ttl {
			t.Fatalf("Increment changed the expiry: %v", it)
		}
		x.Live(cachetest.CheckValue(ctx, c, "k", "15"))
	})

	// A new counter never expires: no exp, no ttl.
	_, err := c.Increment(ctx, "fresh", -3)
	must(t, err)
	it := rawItem(t, client, table, p+"fresh")
	if _, ok := it[dynamocache.AttrExpiry]; ok {
		t.Fatalf("new counter has an expiry: %v", it)
	}
	if _, ok := it[dynamocache.AttrTTL]; ok {
		t.Fatalf("new counter has a ttl: %v", it)
	}
}

// The range check of the one-call ADD path, on an item that is already a
// counter (cachetest reaches the limits through values stored by Set).
func TestCounterOverflow(t *testing.T) {
	client := newClient(endpoint(t))
	c := newCache(t, client, newTable(t, client))
	ctx := t.Context()
	for _, tc := range []struct {
		start, step int64
	}{{math.MaxInt64 - 2, 1}, {math.MinInt64 + 2, -1}} {
		key := fmt.Sprint(tc.start)
		_, err := c.Increment(ctx, key, tc.start) // a counter from the start
		must(t, err)
		for i := int64(1); i <= 2; i++ {
			n, err := c.Increment(ctx, key, tc.step)
			if err != nil || n != tc.start+i*tc.step {
				t.Fatalf("Increment(%s, %d) = %d, %v; want %d", key, tc.step, n, err, tc.start+i*tc.step)
			}
		}
		if _, err := c.Increment(ctx, key, tc.step); !errors.Is(err, cache.ErrOverflow) {
			t.Fatalf("Increment past the int64 range: %v, want cache.ErrOverflow", err)
		}
		cachetest.WantValue(t, c, key, fmt.Sprint(tc.start+2*tc.step))
	}
}

// Keys beyond DynamoDB's 2048-byte partition key still round-trip, never
// collide with each other or with shorter keys, and stay under the prefix
// for Clear.
func TestLongKeys(t *testing.T) {
	client := newClient(endpoint(t))
	table := newTable(t, client)
	other := newCache(t, client, table, dynamocache.WithPrefix(prefix()))
	must(t, other.Set(t.Context(), "kept", []byte("other"), 0))
	c := newCache(t, client, table, dynamocache.WithPrefix(prefix()))
	ctx := t.Context()
	head := strings.Repeat("x", 2100)
	keys := []string{head, head + "a", head + "b", head[:2015-prefixLen], head[:2016-prefixLen], head[:2048-prefixLen], strings.Repeat("y", 10000)}
	for i, k := range keys {
		must(t, c.Set(ctx, k, []byte(fmt.Sprint(i)), 0))
	}
	hits, err := c.GetMany(ctx, keys)
	must(t, err)
	for i, k := range keys {
		cachetest.WantValue(t, c, k, fmt.Sprint(i))
		if string(hits[k]) != fmt.Sprint(i) {
			t.Fatalf("GetMany: key %d = %q, want %q", i, hits[k], fmt.Sprint(i))
		}
	}
	// The value limit counts the stored key, at most 2048 bytes.
	big := make([]byte, dynamocache.MaxValueSize(2048))
	must(t, c.Set(ctx, keys[0], big, 0))
	if err := c.Set(ctx, keys[0], append(big, 0), 0); !errors.Is(err, cache.ErrTooLarge) {
		t.Fatalf("Set over the limit under a long key: %v, want cache.ErrTooLarge", err)
	}
	must(t, c.Clear(ctx))
	for _, k := range keys {
		if ok, err := c.Has(ctx, k); ok || err != nil {
			t.Fatalf("Has(%.20q...) after Clear = %v, %v", k, ok, err)
		}
	}
	cachetest.WantValue(t, other, "kept", "other")
}

// Batches larger than one BatchGetItem (100 keys) or BatchWriteItem (25
// items), and DeleteMany's exact count.
func TestLargeBatches(t *testing.T) {
	client := newClient(endpoint(t))
	c := newCache(t, client, newTable(t, client))
	ctx := t.Context()
	items := make(map[string][]byte, 250)
	keys := make([]string, 0, 260)
	for i := range 250 {
		k := fmt.Sprintf("k%03d", i)
		items[k] = []byte(k)
		keys = append(keys, k)
	}
	must(t, c.SetMany(ctx, items, 0))
	must(t, c.SetMany(ctx, map[string][]byte{"short": nil}, time.Millisecond))
	time.Sleep(5 * time.Millisecond)
	keys = append(keys, "missing", "short", "k000")
	hits, err := c.GetMany(ctx, keys)
	must(t, err)
	if len(hits) != 250 {
		t.Fatalf("GetMany = %d hits, want 250", len(hits))
	}
	for k, v := range items {
		if string(hits[k]) != string(v) {
			t.Fatalf("GetMany: %s = %q, want %q", k, hits[k], v)
		}
	}
	n, err := c.DeleteMany(ctx, keys)
	if err != nil || n != 250 {
		t.Fatalf("DeleteMany = %d, %v; want 250 (the expired and missing keys and the duplicate do not count)", n, err)
	}
}

func TestNewChecksTheTable(t *testing.T) {
	client := newClient(endpoint(t))
	ctx := t.Context()
	if _, err := dynamocache.New(ctx, client, unique("missing")); err == nil {
		t.Fatal("New on a missing table without WithCreateTable succeeded")
	}
	// A string partition key cannot hold arbitrary bytes.
	table := unique("string-key")
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(dynamocache.AttrKey), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(dynamocache.AttrKey), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	must(t, err)
	t.Cleanup(func() {
		client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	if _, err := dynamocache.New(ctx, client, table, dynamocache.WithCreateTable()); err == nil || !strings.Contains(err.Error(), "want B") {
		t.Fatalf("New on a table with a string key = %v, want a schema error", err)
	}
	// WithCreateTable on a table that exists is fine.
	good := newTable(t, client)
	c, err := dynamocache.New(ctx, client, good, dynamocache.WithCreateTable(), dynamocache.WithLogger(testLogger(t)))
	must(t, err)
	c.Close()
	if _, err := dynamocache.New(ctx, client, good, dynamocache.WithPrefix(strings.Repeat("p", 2015))); err == nil {
		t.Fatal("New with a prefix that leaves no room for keys succeeded")
	}
}
