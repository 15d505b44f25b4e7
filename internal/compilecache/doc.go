// Package compilecache keeps compiled configs on disk, as Go's build
// cache keeps compiled packages: a plan or apply of a config that has not
// changed since the last compile loads the compiled model, host states and
// diagnostics instead of compiling again (at 10,000 services, most of the
// command's time).
//
// An entry's key is the SHA-256 of the lvsgen build (BuildID), the config
// directory, the options that change the result, and every config file's
// name and the SHA-256 of its bytes (each file is hashed once: the compile
// is given the sums); the entry itself records the policy files the compile
// read, checked again at each load. An entry is trusted only whole: it
// carries its key and a checksum, and one that does not match is ignored
// and overwritten. Entries are written by rename, bounded in number and
// bytes, and may be deleted at any time. The directory must be private
// (Open): apply programs the kernel from what it holds.
//
// A config that changed misses every entry; its compile then takes the
// services that did not change from the directory's service memo
// (memo.go), the models of the last valid compile's services keyed by
// their text and world, and compiles only the others.
package compilecache
