package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pacrepo/pacrepo/internal/testutil"
)

// envPagesScreenshot, when set, is where TestPackagePagesInBrowser saves a
// screenshot of a package page (README's is made so).
const envPagesScreenshot = "PACREPO_PAGES_SCREENSHOT"

// TestPackagePagesInBrowser has a real browser (headless chromium) use
// the package pages of a directory and of a bucket served by one host:
// load the index, search, open a package, follow a dependency link and a
// "required by" link, and read the feed.
func TestPackagePagesInBrowser(t *testing.T) {
	chromium := testutil.RequireTool(t, "chromium")
	srv := testutil.StartS3(t, "pages")
	srv.SetEnv(t)
	home := t.TempDir()
	for k, v := range map[string]string{"HOME": home, "XDG_CONFIG_HOME": filepath.Join(home, ".config"), "XDG_CONFIG_DIRS": filepath.Join(home, "etc-xdg"),
		"XDG_CACHE_HOME": filepath.Join(home, ".cache"), "PACREPO_CONFIG": "", "REPOCTL_CONFIG": "", "PACREPO_HOST_AUTH": ""} {
		t.Setenv(k, v)
	}

	src := t.TempDir()
	var files []string
	for _, spec := range []testutil.PackageSpec{
		{Name: "web-app", Version: "1.0-1", Desc: "A web <app> for the shop", URL: "https://example.org/web-app", Licenses: []string{"MIT"},
			Depends: []string{"libshop>=1.0"}, OptDepends: []string{"shop-doc: the manual"}, NumFiles: 2},
		{Name: "libshop-impl", Base: "libshop", Version: "1.2-1", Desc: "The shop library", Provides: []string{"libshop=1.2"}, NumFiles: 2},
		{Name: "shop-doc", Base: "libshop", Version: "1.2-1", Desc: "Manual of the shop library", NumFiles: 1},
	} {
		spec.Arch = "any"
		files = append(files, testutil.MustMakePackage(t, src, spec))
	}
	dirDB := filepath.Join(t.TempDir(), "local.db.tar.zst")
	bucket := "s3://pages/os/farm.db.tar.zst"
	for _, db := range []string{dirDB, bucket} {
		var stderr bytes.Buffer
		if code := run(context.Background(), append([]string{"--repo", db, "add"}, files...), &bytes.Buffer{}, &stderr); code != 0 {
			t.Fatalf("add to %s: exit %d\n%s", db, code, &stderr)
		}
	}
	cfg := filepath.Join(t.TempDir(), "config.toml")
	conf := "[profiles.local]\nrepo = \"" + dirDB + "\"\n[profiles.farm]\nrepo = \"" + bucket + "\"\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	base, _ := startHost(t, &Globals{ConfigFile: cfg}, &hostOptions{pages: true})

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.WindowSize(1000, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()

	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// text waits until the browser has loaded a page whose address holds
	// at, and returns the text of sel in it (a click starts loading the
	// next page, and the previous one answers queries meanwhile).
	text := func(at, sel string) string {
		t.Helper()
		expr := `location.href.includes(` + strconv.Quote(at) + `) && document.readyState === "complete" && document.querySelector(` +
			strconv.Quote(sel) + `) ? document.querySelector(` + strconv.Quote(sel) + `).textContent : ""`
		for {
			got, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
			if err == nil && got != "" {
				return got
			}
			if ctx.Err() != nil {
				t.Fatalf("no page at %s with %s: %v", at, sel, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	step("load the index", chromedp.Navigate(base+"/"))
	if got := text("/", "main"); !strings.Contains(got, "local") || !strings.Contains(got, "farm") {
		t.Fatalf("index: %q", got)
	}
	for _, repo := range []string{"local", "farm"} {
		list := "/" + repo + "/packages/"
		step(repo+": open its packages", chromedp.Click(chromedp.CSS(`a[href="`+repo+`/packages/"]`)))
		if got := text(list, "#count"); !strings.Contains(got, "3 packages") {
			t.Errorf("%s: list says %q", repo, got)
		}
		step(repo+": search", chromedp.SendKeys(chromedp.CSS("#q"), "library"), chromedp.Submit(chromedp.CSS("#q")))
		if got := text("q=library", "#count"); !strings.Contains(got, "2 of 3 packages match") {
			t.Errorf("%s: search says %q", repo, got)
		}
		if got := text("q=library", "tbody"); !strings.Contains(got, "libshop-impl") || strings.Contains(got, "web-app") {
			t.Errorf("%s: search found %q", repo, got)
		}
		step(repo+": back to every package", chromedp.Navigate(base+list))
		text(list, "tbody")
		step(repo+": open a package", chromedp.Click(chromedp.CSS(`a[href="./web-app"]`)))
		if got := text(list+"web-app", "h1"); got != "web-app 1.0-1" {
			t.Errorf("%s: package page heading %q", repo, got)
		}
		if got := text(list+"web-app", "main"); !strings.Contains(got, "A web <app> for the shop") || !strings.Contains(got, "not signed") ||
			!strings.Contains(got, "usr/share/web-app/") {
			t.Errorf("%s: package page:\n%s", repo, got)
		}
		if repo == "local" && os.Getenv(envPagesScreenshot) != "" {
			step("viewport", chromedp.EmulateViewport(900, 1000))
			png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
			if err != nil {
				t.Fatalf("screenshot: %v", err)
			}
			if err := os.WriteFile(os.Getenv(envPagesScreenshot), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		step(repo+": follow a dependency", chromedp.Click(chromedp.CSS(`ul.deps a[href="./libshop-impl"]`)))
		if got := text(list+"libshop-impl", "h1"); got != "libshop-impl 1.2-1" {
			t.Errorf("%s: dependency link led to %q", repo, got)
		}
		step(repo+": follow required by", chromedp.Click(chromedp.CSS(`#required-by + ul a[href="./web-app"]`)))
		if got := text(list+"web-app", "h1"); got != "web-app 1.0-1" {
			t.Errorf("%s: required-by link led to %q", repo, got)
		}
		step(repo+": open the feed", chromedp.Click(chromedp.CSS(`a[href="../feed.atom"]`)))
		// Chromium shows the feed's XML as text.
		feed := text("/"+repo+"/feed.atom", ":root")
		if !strings.Contains(feed, "<feed") || !strings.Contains(feed, "web-app 1.0-1 added") || !strings.Contains(feed, "/"+repo+"/packages/web-app") {
			t.Errorf("%s: feed:\n%s", repo, feed)
		}
		step("back to the index", chromedp.Navigate(base+"/"))
		text("/", "main")
	}
}
