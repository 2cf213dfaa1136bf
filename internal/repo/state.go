package repo

// state joins a snapshot by package name into the exported State.
func (s *snapshot) state() *State {
	reg := s.entryByName()
	byName := s.filesByName()
	st := &State{Problems: s.problems, Others: s.others}
	for _, name := range s.allNames() {
		ps := PackageState{Name: name}
		if e := reg[name]; e != nil {
			c := *e
			ps.Entry = &c
		}
		for _, f := range byName[name] {
			ps.Files = append(ps.Files, FileState{Filename: f.Filename, Version: f.Version, HasSig: f.HasSig})
		}
		st.Packages = append(st.Packages, ps)
	}
	return st
}
