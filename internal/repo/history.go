package repo

// Every change of a repository directory is a generation of its history
// (internal/history): a record of what it changed, and hard links of the
// databases it committed. Both are part of the change's transaction:
//
//   - prepare numbers the generation (the newest record's plus one) and
//     writes the record's change into the journal;
//   - the databases are linked into the history under names made of their
//     content as complete temporaries, before they are put in place
//     (repodb.WriteOptions.Keep), so that the installed databases keep the
//     identity the index was written for;
//   - finish writes the record, created only if absent, before it clears
//     the journal.
//
// A crash before the database commit rolls the change back: no record
// exists (a database linked into the history and named by no record is
// a leftover gc may remove). A crash after it is rolled forward by
// recovery, which writes the record the journal names unless it exists,
// with the databases on disk. So a generation is whole or absent.
//
// The first change of a repository without history records the state it
// found as generation 0 (its databases only), so that rollback can go
// back to it; earlier states are not known.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/pacrepo/pacrepo/internal/history"
)

// journalHistory is the generation a transaction records.
type journalHistory struct {
	Generation int64          `json:"generation"`
	Change     history.Change `json:"change"`
}

// History is the repository's history.
func (r *Repo) History() history.Dir { return history.DirOf(r.dir(), r.opts.DB.Name) }

// planGeneration numbers the generation of the change t is about to make
// and describes it; first says that no generation is recorded yet.
func (r *Repo) planGeneration(t *txn, c *change) (h *journalHistory, first bool, err error) {
	latest, err := r.History().Latest(context.Background())
	if err != nil {
		return nil, false, err
	}
	command := r.opts.Command
	if command == "" {
		command = t.command
	}
	h = &journalHistory{Generation: max(latest+1, 1), Change: history.Who(command)}
	byName := map[string]int{}
	for i := range c.keys {
		byName[c.keys[i].Name] = i
	}
	for _, f := range c.registered {
		p := history.Package{Name: f.Name, Version: f.Version, File: f.Filename, Size: f.CSize, SHA256: f.SHA256}
		if i, ok := byName[f.Name]; ok && c.keys[i].Version != f.Version {
			p.From = c.keys[i].Version
		}
		h.Change.Registered = append(h.Change.Registered, p)
	}
	for i := range t.plan.Actions {
		a := &t.plan.Actions[i]
		if a.Kind != ActUnregister {
			continue
		}
		if i, ok := byName[a.Name]; ok {
			k := &c.keys[i]
			h.Change.Unregistered = append(h.Change.Unregistered,
				history.Package{Name: k.Name, Version: k.Version, File: k.Filename, Size: k.CSize, SHA256: k.SHA256Sum})
		}
	}
	for i, rt := range c.journal.Retire {
		a := c.retireActions[i]
		h.Change.Retired = append(h.Change.Retired, history.Retired{
			Package:  history.Package{Name: rt.Name, Version: rt.Version, File: rt.File, Size: rt.Size, SHA256: rt.SHA256},
			Disposal: string(a.Disposal), To: a.DisposedTo})
	}
	return h, latest < 0, nil
}

// recordGenerationZero records the databases the first change of a
// repository without history found, as generation 0.
func (r *Repo) recordGenerationZero() error {
	dbs, err := r.keepCurrentDatabases()
	if err != nil {
		return err
	}
	err = r.History().Write(&history.Record{Version: history.RecordVersion, Generation: 0, Time: time.Now().UTC(),
		Change: history.Change{Command: "(the state before the history began)"}, Databases: dbs})
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	return err
}

// keepCurrentDatabases keeps the databases on disk in the history (a
// database kept already is not linked again) and returns them.
func (r *Repo) keepCurrentDatabases() ([]history.Database, error) {
	h := r.History()
	var dbs []history.Database
	for _, path := range []string{r.opts.DB.FilesPath(), r.opts.DB.DBPath()} {
		sig := path + ".sig"
		if _, err := os.Lstat(sig); err != nil {
			sig = ""
		}
		db, err := h.Keep(path, sig, baseName(path))
		if err != nil {
			return nil, err
		}
		dbs = append(dbs, db)
	}
	return dbs, h.Sync()
}

// keepWritten is the repodb.WriteOptions.Keep of a change: it links each
// database written into the history and remembers it in c.
func (r *Repo) keepWritten(c *change) func(tmp, sigTmp, name string) error {
	return func(tmp, sigTmp, name string) error {
		db, err := r.History().Keep(tmp, sigTmp, name)
		if err != nil {
			return err
		}
		c.databases = append(c.databases, db)
		if db.Files() {
			return nil
		}
		if err := r.History().Sync(); err != nil {
			return fmt.Errorf("keep %s in the history: %w", name, err)
		}
		crashPoint("after-history-db")
		return nil
	}
}

// writeGeneration writes the record of the generation h describes, whose
// databases are dbs (nil: the databases on disk). A record that exists
// already was written by this transaction before a crash.
func (r *Repo) writeGeneration(h *journalHistory, dbs []history.Database) error {
	if h == nil {
		return nil
	}
	if len(dbs) < 2 {
		var err error
		if dbs, err = r.keepCurrentDatabases(); err != nil {
			return err
		}
	}
	rec := &history.Record{Version: history.RecordVersion, Generation: h.Generation, Time: time.Now().UTC(),
		Change: h.Change, Databases: dbs}
	err := r.History().Write(rec)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	return err
}
