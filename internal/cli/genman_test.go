package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/cli"
)

func TestGenManPages(t *testing.T) {
	root, dir := genMan(t)

	// Every visible command has its page.
	var walk func(c *cobra.Command)
	count := 0
	walk = func(c *cobra.Command) {
		if !c.IsAvailableCommand() && c != root {
			return
		}
		name := strings.ReplaceAll(c.CommandPath(), " ", "-")
		page := filepath.Join(dir, name+".1")
		data, err := os.ReadFile(page)
		if err != nil {
			t.Errorf("no manual page for %q: %v", c.CommandPath(), err)
		} else if !bytes.Contains(data, []byte(c.Short)) && !bytes.Contains(data, []byte(strings.ReplaceAll(c.Short, "-", "\\-"))) {
			t.Errorf("%s does not describe the command", page)
		}
		// Each page is titled after its command, not all PACREPO(1).
		title := `.TH "` + strings.ToUpper(name) + `" "1"`
		if err == nil && !bytes.Contains(data, []byte(title)) {
			t.Errorf("%s is not titled %s", page, title)
		}
		count++
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if count < 5 {
		t.Errorf("only %d pages", count)
	}
	if _, err := os.Stat(filepath.Join(dir, "pacrepo-gen-man.1")); err == nil {
		t.Error("the hidden gen-man command has a page")
	}

	// The configuration file has its page, with every key the template
	// documents.
	confPage, err := os.ReadFile(filepath.Join(dir, "pacrepo.toml.5"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`.TH "PACREPO.TOML" "5"`, "default_profile", "add_params", "[profiles.default]", "lock_timeout"} {
		if !bytes.Contains(confPage, []byte(want)) {
			t.Errorf("pacrepo.toml.5 does not mention %q", want)
		}
	}

	rootPage, err := os.ReadFile(filepath.Join(dir, "pacrepo.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Exit codes", "lock could not be taken", "--profile"} {
		if !bytes.Contains(rootPage, []byte(want)) {
			t.Errorf("pacrepo.1 does not mention %q", want)
		}
	}
}

// TestGenManKeepsLiteralBlocks: indented blocks of the help (the marks of
// status, the exit codes) stay one line each in the manual page; they used
// to be joined into one paragraph.
func TestGenManKeepsLiteralBlocks(t *testing.T) {
	_, dir := genMan(t)
	for page, line := range map[string]string{
		"pacrepo-status.1": "  new(v)             a package file not yet registered\n",
		"pacrepo.1":        "  2    bad flags or arguments\n",
	} {
		text, err := os.ReadFile(filepath.Join(dir, page))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(text, []byte(line)) {
			t.Errorf("%s lost the line %q:\n%s", page, line, text)
		}
		if !bytes.Contains(text, []byte(".EX\n")) {
			t.Errorf("no literal block in %s", page)
		}
	}
}

// genMan writes the manual pages into a new directory.
func genMan(t *testing.T) (*cobra.Command, string) {
	t.Helper()
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	root := cli.NewRootCommand(&cli.Globals{Stdout: &out, Stderr: &errOut})
	root.SetArgs([]string{"gen-man", dir})
	if err := root.Execute(); err != nil {
		t.Fatalf("gen-man: %v (%s)", err, errOut.String())
	}
	return root, dir
}
