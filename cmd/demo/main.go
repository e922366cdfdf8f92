// Command demo serves a small page that shows the cache at work. By default
// it runs on an embedded filecache in a temporary folder, so it needs no
// server:
//
//	go run ./cmd/demo
//
// then open http://127.0.0.1:8080. The page shows GetOrSet with a slow
// loader (the first request waits for it, the next ones are instant), a visit
// counter kept with Increment, the hits and misses so far, and a server-side
// session: log in, regenerate the session id, log out.
//
// -cache takes the URL of any adapter (see cache.Open), and -sessions the
// URL of the session store:
//
//	go run ./cmd/demo -cache 'redis://127.0.0.1:6390/0?prefix=demo:' -sessions 'redis://127.0.0.1:6390/0?prefix=demo-sessions:'
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/session"

	// Every adapter, so that -cache and -sessions take any scheme, and
	// the SQL drivers sqlcache's schemes look for.
	_ "github.com/cachelib-go/cachelib/cache/adapters/dynamocache"
	_ "github.com/cachelib-go/cachelib/cache/adapters/memcachedcache"
	_ "github.com/cachelib-go/cachelib/cache/adapters/memorycache"
	_ "github.com/cachelib-go/cachelib/cache/adapters/mongocache"
	_ "github.com/cachelib-go/cachelib/cache/adapters/rediscache"
	_ "github.com/cachelib-go/cachelib/cache/adapters/sqlcache"
	_ "github.com/cachelib-go/cachelib/filecache"
	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	cacheURL := flag.String("cache", "", "URL of the cache, such as mem:// or redis://127.0.0.1:6390/0?prefix=demo: (default: a filecache in a new temporary folder, removed on exit)")
	sessionsURL := flag.String("sessions", "", "URL of the session store; give it a prefix, folder or table of its own, or \"Clear the cache\" also ends sessions (default: a folder next to the default cache, or the -cache URL)")
	delay := flag.Duration("delay", 1500*time.Millisecond, "how long the slow loader takes")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *cacheURL, *sessionsURL, *delay); err != nil {
		slog.Error("demo", "err", err)
		os.Exit(1)
	}
}

// run serves the demo on addr until ctx ends, on the adapters the two URLs
// open ("" for the defaults main documents).
func run(ctx context.Context, addr, cacheURL, sessionsURL string, delay time.Duration) error {
	if cacheURL == "" {
		tmp, err := os.MkdirTemp("", "cachelib-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		cacheURL = (&url.URL{Scheme: "file", Path: tmp, RawQuery: "janitor=1m"}).String()
		if sessionsURL == "" {
			// A folder of its own, so that "Clear the cache" on the
			// page leaves sessions alone: Clear removes only what its
			// adapter wrote.
			sessionsURL = (&url.URL{Scheme: "file", Path: filepath.Join(tmp, "sessions")}).String()
		}
	}
	if sessionsURL == "" {
		sessionsURL = cacheURL
	}
	a, err := cache.Open(ctx, cacheURL)
	if err != nil {
		return err
	}
	defer a.Close()
	sa, err := cache.Open(ctx, sessionsURL)
	if err != nil {
		return err
	}
	defer sa.Close()
	sessions := session.NewManager(sa)
	defer sessions.Close()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: newDemo(a, sessions, delay, redacted(cacheURL)), ReadHeaderTimeout: 5 * time.Second}
	slog.Info("demo listening", "url", "http://"+ln.Addr().String(), "cache", redacted(cacheURL), "sessions", redacted(sessionsURL))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// redacted is rawURL with its password hidden, for the log and the page.
func redacted(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	if _, ok := u.User.Password(); ok {
		return u.Redacted()
	}
	return rawURL // Redacted would also write "mem://" as "mem:"
}

// demo holds the handlers; everything it shows lives in the cache itself.
type demo struct {
	a        cache.Adapter
	sessions *session.Manager
	report   *cache.Cache[report]
	delay    time.Duration
	backend  string // what the page says the cache runs on
}

type report struct {
	Text     string
	Computed time.Time
}

// reportTTL is how long the slow report stays cached.
const reportTTL = 30 * time.Second

const (
	keyReport = "demo:report"
	keyVisits = "demo:visits"
	keyHits   = "demo:hits"
	keyMisses = "demo:misses"
)

// newDemo returns the demo's handler: the cache demo on a, described on the
// page as backend, with sessions from the given manager.
func newDemo(a cache.Adapter, sessions *session.Manager, delay time.Duration, backend string) http.Handler {
	d := &demo{a: a, sessions: sessions, report: cache.New[report](a, cache.WithDefaultTTL(reportTTL)), delay: delay, backend: backend}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", d.page)
	mux.HandleFunc("POST /clear", d.clear)
	mux.HandleFunc("POST /login", d.login)
	mux.HandleFunc("POST /regenerate", d.regenerate)
	mux.HandleFunc("POST /logout", d.logout)
	return sessions.Middleware(mux)
}

// slowReport stands in for an expensive query.
func (d *demo) slowReport(ctx context.Context) (report, error) {
	select {
	case <-time.After(d.delay):
	case <-ctx.Done():
		return report{}, ctx.Err()
	}
	return report{Text: fmt.Sprintf("the answer, computed in %v", d.delay), Computed: time.Now()}, nil
}

type pageData struct {
	Backend   string
	Report    report
	Hit       bool
	Took      time.Duration
	Visits    int64
	Hits      int64
	Misses    int64
	TTL       time.Duration
	User      string
	SessionID string // a prefix: enough to see it change on regenerate
}

func (d *demo) page(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	start := time.Now()
	loaded := false
	rep, err := d.report.GetOrSet(ctx, keyReport, func(ctx context.Context) (report, error) {
		loaded = true
		return d.slowReport(ctx)
	})
	took := time.Since(start)
	if err != nil {
		http.Error(w, "cache: "+err.Error(), http.StatusInternalServerError)
		return
	}
	outcome := keyHits
	if loaded {
		outcome = keyMisses
	}
	visits, err := cache.Increment(ctx, d.a, keyVisits, 1)
	if err == nil {
		_, err = cache.Increment(ctx, d.a, outcome, 1)
	}
	if err != nil {
		http.Error(w, "cache: "+err.Error(), http.StatusInternalServerError)
		return
	}
	data := pageData{Backend: d.backend, Report: rep, Hit: !loaded, Took: took, TTL: reportTTL, Visits: visits,
		Hits: d.counter(ctx, keyHits), Misses: d.counter(ctx, keyMisses)}
	s := session.FromContext(ctx)
	if user, ok, err := session.GetAs[string](s, "user"); ok && err == nil {
		data.User = user
		data.SessionID = s.ID()[:8]
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pageTmpl.Execute(w, data); err != nil {
		slog.Warn("demo: rendering page", "err", err)
	}
}

// counter reads a counter kept with Increment; a missing one is 0.
func (d *demo) counter(ctx context.Context, key string) int64 {
	b, err := d.a.Get(ctx, key)
	if err != nil {
		return 0
	}
	n, _ := cache.ParseInt(b)
	return n
}

// login starts a session for the named user. Regenerate comes first, so an
// id planted before login is never the one that becomes authenticated.
func (d *demo) login(w http.ResponseWriter, r *http.Request) {
	name := r.FormValue("name")
	if name == "" || len(name) > 64 {
		http.Error(w, "name: 1 to 64 characters", http.StatusBadRequest)
		return
	}
	if err := d.sessions.Regenerate(r.Context()); err != nil {
		http.Error(w, "session: "+err.Error(), http.StatusInternalServerError)
		return
	}
	session.FromContext(r.Context()).Set("user", name)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// regenerate gives the session a new id and keeps its data.
func (d *demo) regenerate(w http.ResponseWriter, r *http.Request) {
	if err := d.sessions.Regenerate(r.Context()); err != nil {
		http.Error(w, "session: "+err.Error(), http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout deletes the session's entry and expires its cookie.
func (d *demo) logout(w http.ResponseWriter, r *http.Request) {
	if err := d.sessions.Destroy(r.Context()); err != nil {
		http.Error(w, "session: "+err.Error(), http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (d *demo) clear(w http.ResponseWriter, r *http.Request) {
	if err := d.a.Clear(r.Context()); err != nil && !errors.Is(err, context.Canceled) {
		http.Error(w, "cache: "+err.Error(), http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cachelib for Go: demo</title>
<style>body{font-family:system-ui,sans-serif;max-width:42rem;margin:2rem auto;line-height:1.5}
.hit{color:#1a7f37}.miss{color:#b35900}code{background:#f3f3f3;padding:0 .2em}</style></head>
<body>
<h1>cachelib for Go</h1>
<p>Running on <code id="backend">{{.Backend}}</code>.</p>
<h2>GetOrSet with a slow loader</h2>
<p id="outcome" class="{{if .Hit}}hit{{else}}miss{{end}}">
{{if .Hit}}Hit: served from the cache in {{.Took}}.{{else}}Miss: the loader ran, this request took {{.Took}}.{{end}}</p>
<p>Value: <q>{{.Report.Text}}</q>, computed at {{.Report.Computed.Format "15:04:05.000"}}; it expires {{.TTL}} after that.
Reload the page: the next requests are instant until then.</p>
<h2>Counters kept with Increment</h2>
<ul>
<li>Visits: <b id="visits">{{.Visits}}</b></li>
<li>Hits: <b id="hits">{{.Hits}}</b>, misses: <b id="misses">{{.Misses}}</b></li>
</ul>
<form method="post" action="/clear"><button>Clear the cache</button></form>
<h2>A server-side session</h2>
{{if .User}}<p>Logged in as <b id="user">{{.User}}</b>; session id <code id="sid">{{.SessionID}}…</code></p>
<form method="post" action="/regenerate" style="display:inline"><button>Regenerate the session id</button></form>
<form method="post" action="/logout" style="display:inline"><button>Log out</button></form>
{{else}}<p id="user-none">Not logged in.</p>
<form method="post" action="/login"><input name="name" placeholder="your name" required maxlength="64"> <button>Log in</button></form>{{end}}
</body></html>
`))
