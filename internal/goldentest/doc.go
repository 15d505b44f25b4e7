// Package goldentest compares a test's output with a file under testdata,
// byte for byte, and rewrites the file instead when the test runs with
// its package's -update flag. It is for tests only.
package goldentest
