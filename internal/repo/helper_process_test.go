package repo

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/history"
	"github.com/pacrepo/pacrepo/internal/repodb"
)

// TestHelperProcess is not a test: it is the body of the child processes
// the tests start (the test binary re-executed with -test.run). It runs one
// command on the repository in PACREPO_TEST_DIR.
func TestHelperProcess(t *testing.T) {
	op := os.Getenv("PACREPO_TEST_HELPER")
	if op == "" {
		t.Skip("helper process only")
	}
	crashAtEnv()
	dir := os.Getenv("PACREPO_TEST_DIR")
	var args []string
	if a := os.Getenv("PACREPO_TEST_ARGS"); a != "" {
		args = strings.Split(a, "\n")
	}
	keep, _ := strconv.Atoi(os.Getenv("PACREPO_TEST_KEEP"))
	keepGens, _ := strconv.Atoi(os.Getenv("PACREPO_TEST_KEEPGENS"))
	var ignore []string
	if p := os.Getenv("PACREPO_TEST_IGNORE"); p != "" {
		ignore = strings.Split(p, "\n")
	}
	r := New(Options{DB: repodb.Location{Dir: dir, Name: "test", Ext: ".tar.zst"}, LockTimeout: 60 * time.Second,
		BackupDir: os.Getenv("PACREPO_TEST_BACKUP"), RetireInPlace: os.Getenv("PACREPO_TEST_INPLACE") == "1",
		KeepBackups: keep, IgnorePatterns: ignore, Retention: history.Retention{KeepGenerations: keepGens}})
	var err error
	switch op {
	case "add":
		_, err = r.Add(ctx, args, AddOptions{Mode: Copy})
	case "move":
		_, err = r.Add(ctx, args, AddOptions{Mode: Move})
	case "link":
		_, err = r.Add(ctx, args, AddOptions{Mode: Link})
	case "reset":
		_, err = r.Reset(ctx, Request{})
	case "update":
		_, err = r.Update(ctx, args, Request{})
	case "remove":
		_, err = r.Remove(ctx, args, Request{})
	case "rollback":
		var gen int64
		if gen, err = strconv.ParseInt(args[0], 10, 64); err == nil {
			_, err = r.Rollback(ctx, gen, Request{})
		}
	case "promote": // args: the target directory, then the names
		target := New(Options{DB: repodb.Location{Dir: args[0], Name: "test", Ext: ".tar.zst"}, LockTimeout: 60 * time.Second})
		_, err = r.Promote(ctx, target, PromoteRequest{Names: args[1:]})
	case "promote-debug": // args: the target's, the source's debug and the target's debug directories, then the names
		at := func(dir string) *Repo {
			return New(Options{DB: repodb.Location{Dir: dir, Name: "test", Ext: ".tar.zst"}, LockTimeout: 60 * time.Second})
		}
		_, _, err = r.PromoteWithDebug(ctx, at(args[0]), at(args[1]), at(args[2]), PromoteRequest{Names: args[3:]})
	case "repair":
		_, err = r.Check(ctx, true)
	case "hold":
		// Take the lock, say so, and wait to be killed.
		if _, err = r.lock(ctx, "hold"); err == nil {
			fmt.Println("locked")
			time.Sleep(time.Minute)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// helper returns the command running op in a child process.
func helper(r *Repo, op string, args []string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	inPlace := "0"
	if r.opts.RetireInPlace {
		inPlace = "1"
	}
	cmd.Env = append(os.Environ(), "PACREPO_TEST_HELPER="+op, "PACREPO_TEST_DIR="+r.dir(),
		"PACREPO_TEST_ARGS="+strings.Join(args, "\n"), "PACREPO_TEST_BACKUP="+r.opts.BackupDir, "PACREPO_TEST_INPLACE="+inPlace,
		"PACREPO_TEST_KEEP="+strconv.Itoa(r.opts.KeepBackups), "PACREPO_TEST_IGNORE="+strings.Join(r.opts.IgnorePatterns, "\n"),
		"PACREPO_TEST_KEEPGENS="+strconv.Itoa(r.opts.Retention.KeepGenerations))
	cmd.Env = append(cmd.Env, env...)
	return cmd
}
