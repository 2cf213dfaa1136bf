package config

import (
	"fmt"
	"strings"
)

// RepoAddParams is what the options repoctl passed to repo-add (add_params)
// or repo-remove (rm_params) ask of pacrepo. Each option is honoured with its
// meaning; none is ignored, and an option pacrepo does not know is refused
// when the configuration is read.
type RepoAddParams struct {
	New              bool   // -n/--new: add leaves out files of registered names
	PreventDowngrade bool   // -p/--prevent-downgrade: add leaves out older files
	IncludeSigs      bool   // --include-sigs: embed package signatures (%PGPSIG%)
	Sign             bool   // -s/--sign: sign the databases (sign_db)
	Key              string // -k/--key KEY: the signing key (sign_key)
	Verify           bool   // -v/--verify: verify the database's signature first (--verify)
	Quiet            bool   // -q/--quiet: print only errors (--quiet)
	NoColor          bool   // --nocolor: --color never
	// -w/--wait-for-lock and -R/--remove are accepted: pacrepo always waits
	// for the lock (up to lock_timeout), and always retires the files a
	// change makes obsolete (as backup and backup_dir say).
}

// repoAddOption describes one option of repo-add or repo-remove.
type repoAddOption struct {
	short   byte // 0: none
	long    string
	addOnly bool // repo-add's, not repo-remove's
	set     func(*RepoAddParams)
}

var repoAddOptions = []repoAddOption{
	{'n', "new", true, func(o *RepoAddParams) { o.New = true }},
	{'p', "prevent-downgrade", true, func(o *RepoAddParams) { o.PreventDowngrade = true }},
	{'R', "remove", true, func(*RepoAddParams) {}},
	{0, "include-sigs", true, func(o *RepoAddParams) { o.IncludeSigs = true }},
	{'s', "sign", false, func(o *RepoAddParams) { o.Sign = true }},
	{'v', "verify", false, func(o *RepoAddParams) { o.Verify = true }},
	{'q', "quiet", false, func(o *RepoAddParams) { o.Quiet = true }},
	{0, "nocolor", false, func(o *RepoAddParams) { o.NoColor = true }},
	{'w', "wait-for-lock", false, func(*RepoAddParams) {}},
	// -k/--key KEY takes a value: parseRepoAddParams handles it.
}

// parseRepoAddParams reads params as repo-add (or, with remove,
// repo-remove) would: long options (--key=KEY or --key KEY), short ones
// alone or combined ("-sv", "-kKEY", "-sk KEY").
func parseRepoAddParams(params []string, remove bool) (RepoAddParams, error) {
	tool := "repo-add"
	if remove {
		tool = "repo-remove"
	}
	var o RepoAddParams
	apply := func(opt repoAddOption, spelled string) error {
		if remove && opt.addOnly {
			return fmt.Errorf("%q is repo-add's option, not repo-remove's: move it to add_params", spelled)
		}
		opt.set(&o)
		return nil
	}
	unknown := func(spelled string) error {
		return fmt.Errorf("%q is not an option of %s that pacrepo knows (it honours -n, -p, -R, -s, -k KEY, -v, --include-sigs, -q, --nocolor, -w)", spelled, tool)
	}
	for i := 0; i < len(params); i++ {
		arg := params[i]
		value := func(spelled string) (string, error) {
			if i+1 >= len(params) {
				return "", fmt.Errorf("%q needs a key after it", spelled)
			}
			i++
			return params[i], nil
		}
		switch {
		case strings.HasPrefix(arg, "--") && len(arg) > 2:
			name, val, hasVal := strings.Cut(arg[2:], "=")
			if name == "key" {
				if !hasVal {
					v, err := value(arg)
					if err != nil {
						return o, err
					}
					val = v
				}
				o.Key = val
				continue
			}
			k := indexRepoAddOption(func(opt repoAddOption) bool { return opt.long == name })
			if k < 0 {
				return o, unknown(arg)
			}
			if hasVal {
				return o, fmt.Errorf("%q: --%s takes no value", arg, name)
			}
			if err := apply(repoAddOptions[k], arg); err != nil {
				return o, err
			}
		case strings.HasPrefix(arg, "-") && len(arg) > 1 && arg[1] != '-':
			for j := 1; j < len(arg); j++ {
				c := arg[j]
				if c == 'k' {
					val := arg[j+1:]
					if val == "" {
						v, err := value("-k")
						if err != nil {
							return o, err
						}
						val = v
					}
					o.Key = val
					break
				}
				k := indexRepoAddOption(func(opt repoAddOption) bool { return opt.short == c })
				if k < 0 {
					return o, unknown("-" + string(c))
				}
				if err := apply(repoAddOptions[k], "-"+string(c)); err != nil {
					return o, err
				}
			}
		default:
			return o, fmt.Errorf("%q is not an option (the files and package names come from the command)", arg)
		}
	}
	return o, nil
}

func indexRepoAddOption(match func(repoAddOption) bool) int {
	for i, opt := range repoAddOptions {
		if match(opt) {
			return i
		}
	}
	return -1
}

// SignsDatabases tells whether the profile signs its databases with every
// change: sign_db, or repo-add's -s in add_params or rm_params (a
// signature is the repository's: a change that did not sign would drop
// it).
func (p *Profile) SignsDatabases() bool {
	return p.SignDB || p.AddOptions.Sign || p.RmOptions.Sign
}

// SigningKey is the key the profile signs with: sign_key, else repo-add's
// -k KEY in add_params or rm_params ("" when none is named).
func (p *Profile) SigningKey() string {
	for _, k := range []string{p.SignKey, p.AddOptions.Key, p.RmOptions.Key} {
		if k != "" {
			return k
		}
	}
	return ""
}

// finishRepoAddParams reads add_params and rm_params; bad names the key in
// errors. Keys that disagree are refused: which one signs would be a guess.
func (p *Profile) finishRepoAddParams(bad func(k, format string, args ...any) error) error {
	var err error
	if p.AddOptions, err = parseRepoAddParams(p.AddParams, false); err != nil {
		return bad("add_params", "%v", err)
	}
	if p.RmOptions, err = parseRepoAddParams(p.RmParams, true); err != nil {
		return bad("rm_params", "%v", err)
	}
	keys := []struct{ key, val string }{{"sign_key", p.SignKey}, {"add_params", p.AddOptions.Key}, {"rm_params", p.RmOptions.Key}}
	for _, a := range keys {
		for _, b := range keys {
			if a.val != "" && b.val != "" && !strings.EqualFold(a.val, b.val) {
				return bad(b.key, "the key %s disagrees with %s's %s: name one signing key", b.val, a.key, a.val)
			}
		}
	}
	return nil
}
