package main

import (
	"bytes"
	"io"

	"github.com/spf13/cobra"

	"github.com/lvsgen/lvsgen/internal/safefile"
)

// stdinName is what messages call standard input, given as "-".
const stdinName = "standard input"

// readInput reads the file a command takes as path, or the command's
// standard input when path is "-", either bounded by max: a pipe is as
// untrusted as a file, and has no size to check first. It returns the
// bytes and the name messages give the input.
func readInput(cmd *cobra.Command, path string, max int64) ([]byte, string, error) {
	if path == "-" {
		b, err := safefile.ReadAll(cmd.InOrStdin(), stdinName, max)
		return b, stdinName, err
	}
	b, err := safefile.ReadFile(path, max)
	return b, path, err
}

// openInput is readInput as a reader, for parsers that take one.
func openInput(cmd *cobra.Command, path string, max int64) (io.Reader, string, error) {
	b, name, err := readInput(cmd, path, max)
	if err != nil {
		return nil, name, err
	}
	return bytes.NewReader(b), name, nil
}
