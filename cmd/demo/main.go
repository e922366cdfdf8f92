// Command demo serves a small page that shows the cache at work on an
// embedded default, a filecache in a temporary folder, so it needs no
// server:
//
//	go run ./cmd/demo
//
// then open http://127.0.0.1:8080. The page shows GetOrSet with a slow
// loader (the first request waits for it, the next ones are instant), a visit
// counter kept with Increment, the hits and misses so far, and a server-side
// session kept in the same cache: log in, regenerate the session id, log out.
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
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/cachelib-go/cachelib/cache"
	"github.com/cachelib-go/cachelib/filecache"
	"github.com/cachelib-go/cachelib/session"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	dir := flag.String("dir", "", "cache folder (default: a new temporary folder, removed on exit)")
	delay := flag.Duration("delay", 1500*time.Millisecond, "how long the slow loader takes")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *dir, *delay); err != nil {
		slog.Error("demo", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, dir string, delay time.Duration) error {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "cachelib-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	fc, err := filecache.New(dir, filecache.WithJanitor(time.Minute))
	if err != nil {
		return err
	}
	defer fc.Close()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	// Sessions get a folder of their own, so "Clear the cache" on the page
	// leaves them alone: Clear removes only what its adapter wrote.
	sfc, err := filecache.New(filepath.Join(dir, "sessions"))
	if err != nil {
		return err
	}
	defer sfc.Close()
	sessions := session.NewManager(sfc)
	defer sessions.Close()
	srv := &http.Server{Handler: newDemo(fc, sessions, delay), ReadHeaderTimeout: 5 * time.Second}
	slog.Info("demo listening", "url", "http://"+ln.Addr().String(), "cache", "filecache", "dir", dir)
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

// demo holds the handlers; everything it shows lives in the cache itself.
type demo struct {
	a        cache.Adapter
	sessions *session.Manager
	report   *cache.Cache[report]
	delay    time.Duration
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

// newDemo returns the demo's handler: the cache demo on a, with sessions
// from the given manager.
func newDemo(a cache.Adapter, sessions *session.Manager, delay time.Duration) http.Handler {
	d := &demo{a: a, sessions: sessions, report: cache.New[report](a, cache.WithDefaultTTL(reportTTL)), delay: delay}
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
	data := pageData{Report: rep, Hit: !loaded, Took: took, TTL: reportTTL, Visits: visits,
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
<p>Running on <code>filecache</code> in a temporary folder.</p>
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
<h2>A server-side session in the same cache</h2>
{{if .User}}<p>Logged in as <b id="user">{{.User}}</b>; session id <code id="sid">{{.SessionID}}…</code></p>
<form method="post" action="/regenerate" style="display:inline"><button>Regenerate the session id</button></form>
<form method="post" action="/logout" style="display:inline"><button>Log out</button></form>
{{else}}<p id="user-none">Not logged in.</p>
<form method="post" action="/login"><input name="name" placeholder="your name" required maxlength="64"> <button>Log in</button></form>{{end}}
</body></html>
`))
