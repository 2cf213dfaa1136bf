package config

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Environment variables set for pre_action and post_action commands, in
// addition to the caller's environment.
const (
	EnvActionName     = "PACREPO_ACTION"    // "pre_action" or "post_action"
	EnvActionCommand  = "PACREPO_COMMAND"   // the pacrepo command running, e.g. "add"
	EnvActionProfile  = "PACREPO_PROFILE"   // the profile's name ("" with --repo)
	EnvActionRepo     = "PACREPO_REPO"      // the database path, e.g. /srv/repo/x.db.tar.zst
	EnvActionRepoDir  = "PACREPO_REPO_DIR"  // the repository directory
	EnvActionRepoName = "PACREPO_REPO_NAME" // the repository name, e.g. "x"
)

// ActionEnv returns the variables RunAction should add for action
// ("pre_action" or "post_action") run around command on the repository
// whose database is repoPath.
func ActionEnv(action, command, profile, repoPath string) []string {
	name := filepath.Base(repoPath)
	if i := strings.Index(name, ".db"); i > 0 {
		name = name[:i]
	}
	return []string{
		EnvActionName + "=" + action,
		EnvActionCommand + "=" + command,
		EnvActionProfile + "=" + profile,
		EnvActionRepo + "=" + repoPath,
		EnvActionRepoDir + "=" + filepath.Dir(repoPath),
		EnvActionRepoName + "=" + name,
	}
}

// ActionError is a pre_action or post_action that failed.
type ActionError struct {
	Action   string // from PACREPO_ACTION in env, else "action"
	Command  string
	ExitCode int // -1 when the command did not exit normally
	Err      error
}

func (e *ActionError) Error() string {
	if e.ExitCode >= 0 {
		return fmt.Sprintf("%s %q failed with exit status %d", e.Action, e.Command, e.ExitCode)
	}
	return fmt.Sprintf("%s %q failed: %v", e.Action, e.Command, e.Err)
}

func (e *ActionError) Unwrap() error { return e.Err }

// RunAction runs command with `sh -c`, as repoctl does, with the current
// environment plus env (see ActionEnv), and the given output streams. It
// is user-requested and runs once per command, so a shell is fine here.
// A failure is an *ActionError naming the action and its exit status.
func RunAction(ctx context.Context, command string, env []string, stdout, stderr io.Writer) error {
	if strings.TrimSpace(command) == "" {
		return nil
	}
	action := "action"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, EnvActionName+"="); ok && v != "" {
			action = v
		}
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = nil
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	err := cmd.Run()
	if err == nil {
		return nil
	}
	ae := &ActionError{Action: action, Command: command, ExitCode: -1, Err: err}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.Exited() {
		ae.ExitCode = ee.ExitCode()
	}
	return ae
}
