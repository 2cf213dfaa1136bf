// Package repo changes a repository safely: scan the directory and the
// database, join them into a state, plan the changes as a pure function of
// state and request, and apply the plan under the repository lock with a
// journal, atomic file placement and atomic database replacement.
//
// The safety invariants this package keeps, cited in its comments as
// "invariant N", the data flow and the files a repository holds are
// described in docs/ARCHITECTURE.md at the root of the project:
//
//  1. every entry names a present, complete file of its size and SHA-256;
//  2. a file is removed only when its name is removed, or another verified
//     file of the name is registered and that write reached the disk;
//  3. an unreadable or incomplete file is never evidence for anything;
//  4. writers are serialised by a lock the kernel releases;
//  5. the database is replaced atomically, and an unreadable one stops
//     everything but reset;
//  6. a crash leaves the state before or after, and recovery finishes it;
//  7. a plan that would remove most of the repository needs force.
package repo
