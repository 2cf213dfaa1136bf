package repo

import "slices"

// state joins a scan result by package name into the exported State.
func (s *scanResult) state() *State {
	reg := s.entryByName()
	byName := s.filesByName()
	st := &State{Problems: s.problems, Others: s.others}
	names := s.allNames()
	for _, f := range s.kept {
		if !slices.Contains(names, f.Name) {
			names = append(names, f.Name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		ps := PackageState{Name: name}
		if e := reg[name]; e != nil {
			c := e.Entry()
			ps.Entry = &c
		}
		for _, f := range byName[name] {
			ps.Files = append(ps.Files, FileState{Filename: f.Filename, Version: f.Version, HasSig: f.HasSig})
		}
		for _, f := range s.kept {
			if f.Name == name {
				ps.Kept = append(ps.Kept, FileState{Filename: f.Filename, Version: f.Version})
			}
		}
		st.Packages = append(st.Packages, ps)
	}
	return st
}
