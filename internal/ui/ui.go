// Package ui is pacrepo's terminal output: colour, progress bars, JSON and
// columns. Only the command layer (internal/cli) uses it; domain packages
// never print.
//
// Decorations (colour, progress bars) appear only on a terminal: output
// piped to a file or another program, as build farms do, stays plain text.
package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fatih/color"
	"github.com/mattn/go-isatty"
	"github.com/rivo/uniseg"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// UI writes a command's output (Out) and messages (Err).
type UI struct {
	Out   io.Writer
	Err   io.Writer
	Quiet bool

	color    bool // colour on Out
	errColor bool // colour on Err
	progress bool

	mu  sync.Mutex
	bar *progressbar.ProgressBar
}

// New returns a UI writing output to out and messages and progress to
// errOut. colorMode is "auto", "always" or "never" (repoctl's "on"/"off"
// and "" for auto are accepted); quiet suppresses Info and progress bars.
func New(out, errOut io.Writer, colorMode string, quiet bool) *UI {
	return &UI{
		Out:      out,
		Err:      errOut,
		Quiet:    quiet,
		color:    ColorEnabled(colorMode, out, os.Getenv),
		errColor: ColorEnabled(colorMode, errOut, os.Getenv),
		progress: ProgressEnabled(errOut, quiet, os.Getenv),
	}
}

// ColorEnabled decides whether to colour what is written to w: "always"
// does, "never" does not, and "auto" does when w is a terminal, NO_COLOR is
// unset or empty (https://no-color.org) and TERM is not "dumb". An unknown
// mode counts as auto.
func ColorEnabled(mode string, w io.Writer, getenv func(string) string) bool {
	switch strings.ToLower(strings.TrimSpace(mode)) {
	case "always", "on", "yes", "true":
		return true
	case "never", "off", "no", "false":
		return false
	}
	return getenv("NO_COLOR") == "" && getenv("TERM") != "dumb" && IsTerminal(w)
}

// ProgressEnabled decides whether to draw progress bars on w: only on a
// terminal, never with quiet, and never in CI (CI set to anything but
// "false"), whose logs are terminals that nobody watches.
func ProgressEnabled(w io.Writer, quiet bool, getenv func(string) string) bool {
	if quiet {
		return false
	}
	if ci := getenv("CI"); ci != "" && ci != "false" && ci != "0" {
		return false
	}
	return getenv("TERM") != "dumb" && IsTerminal(w)
}

// IsTerminal reports whether w is a terminal (a file whose descriptor is a
// tty).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok {
		return false
	}
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// ColorOn reports whether Out is coloured.
func (u *UI) ColorOn() bool { return u.color }

// Width returns the width of Out in columns: the terminal's, else
// $COLUMNS, else 80.
func (u *UI) Width() int {
	if f, ok := u.Out.(interface{ Fd() uintptr }); ok && IsTerminal(u.Out) {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return 80
}

func paint(on bool, attrs []color.Attribute, s string) string {
	if !on {
		return s
	}
	c := color.New(attrs...)
	c.EnableColor() // decided by us, not by fatih/color's global NoColor
	return c.Sprint(s)
}

// Green, Yellow, Red and Bold return s coloured for Out (unchanged when
// colour is off).
func (u *UI) Green(s string) string  { return paint(u.color, []color.Attribute{color.FgGreen}, s) }
func (u *UI) Yellow(s string) string { return paint(u.color, []color.Attribute{color.FgYellow}, s) }
func (u *UI) Red(s string) string    { return paint(u.color, []color.Attribute{color.FgRed}, s) }
func (u *UI) Bold(s string) string   { return paint(u.color, []color.Attribute{color.Bold}, s) }

// Printf writes to Out.
func (u *UI) Printf(format string, args ...any) {
	u.clearBar()
	fmt.Fprintf(u.Out, format, args...)
}

// Infof writes a message to Err unless quiet.
func (u *UI) Infof(format string, args ...any) {
	if u.Quiet {
		return
	}
	u.clearBar()
	fmt.Fprintf(u.Err, format+"\n", args...)
}

// Warnf writes "warning: ..." to Err, even when quiet.
func (u *UI) Warnf(format string, args ...any) {
	u.clearBar()
	fmt.Fprintf(u.Err, "%s %s\n", paint(u.errColor, []color.Attribute{color.FgYellow, color.Bold}, "warning:"), fmt.Sprintf(format, args...))
}

// Progress starts a progress bar of total steps described by what, on Err,
// and returns the function to report progress with (done steps out of
// total; total may change). When progress is off (not a terminal, CI,
// quiet) it draws nothing and the function does nothing. Call Finish when
// done. One bar at a time: starting another finishes the previous one.
func (u *UI) Progress(total int, what string) func(done, total int) {
	if !u.progress {
		return func(int, int) {}
	}
	u.Finish()
	bar := progressbar.NewOptions(total,
		progressbar.OptionSetWriter(u.Err),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionEnableColorCodes(u.errColor),
	)
	u.mu.Lock()
	u.bar = bar
	u.mu.Unlock()
	return func(done, n int) {
		u.mu.Lock()
		defer u.mu.Unlock()
		if u.bar != bar {
			return
		}
		if n != total {
			total = n
			bar.ChangeMax(n)
		}
		_ = bar.Set(done)
	}
}

// Finish removes the current progress bar, if any.
func (u *UI) Finish() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.bar != nil {
		_ = u.bar.Finish()
		_ = u.bar.Clear()
		u.bar = nil
	}
}

// clearBar wipes the bar's line before a message so that they do not mix;
// the bar redraws itself on the next update.
func (u *UI) clearBar() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.bar != nil {
		_ = u.bar.Clear()
	}
}

// WriteJSON writes v as indented JSON followed by a newline. Map keys are
// sorted, so the output is stable; HTML characters are not escaped.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Columns writes items in columns filling width (like ls: down the
// columns, then across), at least one column. width <= 0 means 80.
func Columns(w io.Writer, items []string, width int) error {
	if len(items) == 0 {
		return nil
	}
	if width <= 0 {
		width = 80
	}
	const gap = 2
	widths := make([]int, len(items))
	longest := 0
	for i, s := range items {
		widths[i] = uniseg.StringWidth(s)
		longest = max(longest, widths[i])
	}
	cols := max(1, (width+gap)/(longest+gap))
	rows := (len(items) + cols - 1) / cols
	cols = (len(items) + rows - 1) / rows

	// Each column is as wide as its longest item, which packs more than
	// a uniform width would; shrink rows' count no further, for simplicity.
	colWidth := make([]int, cols)
	for i := range items {
		c := i / rows
		colWidth[c] = max(colWidth[c], widths[i])
	}
	var b strings.Builder
	for r := 0; r < rows; r++ {
		b.Reset()
		for c := 0; c < cols; c++ {
			i := c*rows + r
			if i >= len(items) {
				break
			}
			b.WriteString(items[i])
			if next := (c+1)*rows + r; c+1 < cols && next < len(items) {
				b.WriteString(strings.Repeat(" ", colWidth[c]-widths[i]+gap))
			}
		}
		b.WriteByte('\n')
		if _, err := io.WriteString(w, b.String()); err != nil {
			return err
		}
	}
	return nil
}
