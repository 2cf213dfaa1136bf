package cli

import (
	"net/url"
	"strings"
)

// typedCommand is the command line as the history records it: "pacrepo"
// and the arguments, with the password of any URL left out (an endpoint
// may carry credentials; nothing else on a command line is secret).
func typedCommand(args []string) string {
	out := []string{"pacrepo"}
	for _, a := range args {
		out = append(out, redactURL(a))
	}
	return strings.Join(out, " ")
}

// redactURL leaves the password out of a URL in arg (itself, or the value
// of a --flag=URL).
func redactURL(arg string) string {
	flag, value, isFlag := strings.Cut(arg, "=")
	if !isFlag || !strings.HasPrefix(flag, "-") {
		flag, value = "", arg
	}
	u, err := url.Parse(value)
	if err != nil || u.User == nil {
		return arg
	}
	if _, has := u.User.Password(); !has {
		return arg
	}
	u.User = url.UserPassword(u.User.Username(), "REDACTED")
	if flag != "" {
		return flag + "=" + u.String()
	}
	return u.String()
}
