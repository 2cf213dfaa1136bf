package server

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Credentials are the users allowed to read a private repository with
// HTTP basic authentication. Passwords are kept only as SHA-256 digests in
// memory, and compared in constant time.
type Credentials struct {
	users map[string][sha256.Size]byte
}

// NewCredentials returns an empty set of credentials.
func NewCredentials() *Credentials {
	return &Credentials{users: map[string][sha256.Size]byte{}}
}

// Add allows user with password. A user name may not contain a colon and
// neither may be empty.
func (c *Credentials) Add(user, password string) error {
	if user == "" || strings.ContainsAny(user, ":\r\n") {
		return fmt.Errorf("invalid user name %q", user)
	}
	if password == "" {
		return fmt.Errorf("user %s: empty password", user)
	}
	c.users[user] = sha256.Sum256([]byte(password))
	return nil
}

// Len returns the number of users.
func (c *Credentials) Len() int { return len(c.users) }

// Check reports whether user and password are allowed. Its duration does
// not depend on how much of the password is right.
func (c *Credentials) Check(user, password string) bool {
	got := sha256.Sum256([]byte(password))
	want, known := c.users[user]
	// Compare even for an unknown user, so that the work is the same.
	match := subtle.ConstantTimeCompare(got[:], want[:]) == 1
	return known && match
}

// ParseCredential parses one "user:password" pair, as in the environment
// variable PACREPO_HOST_AUTH. The password may contain colons.
func ParseCredential(s string) (user, password string, err error) {
	user, password, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", errors.New(`want "user:password"`)
	}
	return user, password, nil
}

// ReadCredentials reads "user:password" lines; empty lines and lines
// starting with # are ignored.
func ReadCredentials(r io.Reader, c *Credentials) error {
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" || strings.HasPrefix(strings.TrimSpace(text), "#") {
			continue
		}
		user, password, err := ParseCredential(text)
		if err == nil {
			err = c.Add(user, password)
		}
		if err != nil {
			// Never echo the line: it holds a password.
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
	return sc.Err()
}

// LoadCredentialsFile reads a credentials file. The file holds passwords,
// so it must not be readable or writable by group or others (mode 0600 or
// stricter); anything else is refused.
func LoadCredentialsFile(path string, c *Credentials) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("credentials %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("credentials %s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("credentials %s: mode %04o lets others read it; chmod 600 it", path, perm)
	}
	if err := ReadCredentials(f, c); err != nil {
		return fmt.Errorf("credentials %s: %w", path, err)
	}
	return nil
}
