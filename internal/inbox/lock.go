package inbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"

	"github.com/pacrepo/pacrepo/internal/layout"
)

// BusyError is a watch refused because another one watches the directory.
type BusyError struct {
	Dir    string
	Holder string // what the running watch wrote into the lock file
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("another watch is running on %s: %s (it holds %s)", e.Dir, e.Holder, filepath.Join(e.Dir, layout.WatchLockFile))
}

// lockDir takes the watch lock of dir for the life of the watch, as the
// repository lock is taken (internal/repo/lock.go): an flock(2) that the
// kernel releases when the holder dies, on a file that is never deleted,
// holding who took it. It never waits: a second watch refuses to start.
func lockDir(dir string) (*flock.Flock, error) {
	path := filepath.Join(dir, layout.WatchLockFile)
	fl := flock.New(path, flock.SetPermissions(0o644))
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if !ok {
		holder := "unknown"
		if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) != "" {
			holder = strings.TrimSpace(string(b))
		}
		return nil, &BusyError{Dir: dir, Holder: holder}
	}
	host, _ := os.Hostname()
	info := fmt.Sprintf("pid %d on %s, watching since %s\n", os.Getpid(), host, time.Now().Format(time.RFC3339))
	if err := os.WriteFile(path, []byte(info), 0o644); err != nil {
		fl.Unlock()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return fl, nil
}
