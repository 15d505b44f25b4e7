// Package syncbuf is a text buffer several goroutines may write to while
// another reads it: a logger's or a child process's output, collected by
// a test that checks it as it comes.
package syncbuf
