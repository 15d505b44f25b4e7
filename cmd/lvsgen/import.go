package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lvsgen/lvsgen/importer"
	"github.com/lvsgen/lvsgen/internal/safefile"
)

// importFlags are shared by the import subcommands.
type importFlags struct {
	director string
	cluster  string
	outDir   string
	force    bool
	// allowEmpty writes an import of no service rather than failing.
	allowEmpty bool
}

func (f *importFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.cluster, "cluster", importer.DefaultCluster, "the cluster the director and its services go in")
	c.Flags().StringVarP(&f.outDir, "output", "o", "", "write the configuration into this directory (created if needed) instead of stdout")
	c.Flags().BoolVar(&f.force, "force", false, "overwrite the output file if it exists")
	c.Flags().BoolVar(&f.allowEmpty, "allow-empty", false, "write the configuration even when no service is imported (otherwise an error)")
}

func newImport() *cobra.Command {
	c := &cobra.Command{
		Use:   "import",
		Short: "Write an lvsgen config for a director as it runs today",
		Long: `import writes an lvsgen configuration (CUE) that describes what a director
runs today, so that adopting lvsgen changes nothing: the first 'lvsgen plan'
against the host shows no IPVS changes.

  lvsgen import ipvsadm-save [FILE|-] --director NAME   from 'ipvsadm-save -n'
  lvsgen import keepalived FILE [--director NAME]       from keepalived.conf

The output validates as it stands; its header comment says what the input
could not tell (the director's interfaces, who binds the VIPs, the real
servers' hosts) and what to check next. Services lvsgen cannot express are
written as comments and listed on stderr, as is everything keepalived does
that lvsgen does not model (VRRP, health checkers, ...). Malformed input is
an error with its line; nothing is written then. See docs/IMPORT.md.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unknown import source %q: want ipvsadm-save or keepalived\n%s", args[0], c.UsageString())}
			}
			return usageError{fmt.Errorf("import needs a source: ipvsadm-save or keepalived\n%s", c.UsageString())}
		},
	}
	c.AddCommand(newImportSave(), newImportKeepalived())
	return c
}

func newImportSave() *cobra.Command {
	var f importFlags
	c := &cobra.Command{
		Use:   "ipvsadm-save [FILE|-] --director NAME",
		Short: "Import an 'ipvsadm-save -n' capture",
		Long: `ipvsadm-save reads 'ipvsadm-save -n' (or 'ipvsadm -S -n') text from FILE, or
stdin when FILE is - or missing, and writes the lvsgen configuration of the
director NAME that reproduces it: 'lvsgen plan DIR --host NAME --observed
FILE' then shows no changes.`,
		Args: func(c *cobra.Command, args []string) error {
			if err := cobra.MaximumNArgs(1)(c, args); err != nil {
				return usageError{fmt.Errorf("%s: %w", c.CommandPath(), err)}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.director == "" {
				return usageError{errors.New("import ipvsadm-save needs --director NAME: the host whose table this is")}
			}
			src := "-"
			if len(args) == 1 {
				src = args[0]
			}
			in, _, err := openInput(cmd, src, safefile.MaxConfigFile)
			if err != nil {
				return fmt.Errorf("import: %w", err)
			}
			name := "imported"
			opts := importer.Options{Director: f.director, Cluster: f.cluster, Source: "stdin", Command: commandLine("ipvsadm-save", args, f)}
			if src != "-" {
				name = strings.TrimSuffix(filepath.Base(src), filepath.Ext(src))
				opts.Source = src
			}
			res, err := importer.FromSave(in, opts)
			if err != nil {
				return importError(err)
			}
			return finishImport(cmd, res, f, name)
		},
	}
	f.register(c)
	c.Flags().StringVar(&f.director, "director", "", "the director's host name (required)")
	return c
}

func newImportKeepalived() *cobra.Command {
	var f importFlags
	var configID string
	c := &cobra.Command{
		Use:   "keepalived FILE|-",
		Short: "Import the IPVS services of a keepalived.conf",
		Long: `keepalived reads keepalived.conf and the files it includes (relative to the
including file), and writes the lvsgen configuration of the IPVS services
keepalived programs once its health checkers pass: virtual_server by address
and port, fwmark or group, with their schedulers, flags, forwarding (NAT, DR,
TUN with its type, port and checksum), persistence and real servers.
Conditional lines (@id) are read for --config-id (default: the director's
name). The director is --director, else global_defs' router_id. FILE - reads
stdin; its includes are then relative to the current directory.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			opts := importer.KeepalivedOptions{
				Options:  importer.Options{Director: f.director, Cluster: f.cluster, Source: path, Command: commandLine("keepalived", args, f)},
				ConfigID: configID,
			}
			name := strings.TrimSuffix(filepath.Base(path), ".conf")
			if path == "-" {
				b, err := safefile.ReadAll(cmd.InOrStdin(), stdinName, safefile.MaxConfigFile)
				if err != nil {
					return fmt.Errorf("import: %w", err)
				}
				// Included files are read from disk, relative to
				// the current directory as for a file there.
				path, name = stdinConf, "imported"
				opts.Source = "stdin"
				opts.Files = stdinFiles{conf: b}
			}
			res, err := importer.FromKeepalived(path, opts)
			if err != nil {
				return importError(err)
			}
			return finishImport(cmd, res, f, name)
		},
	}
	f.register(c)
	c.Flags().StringVar(&f.director, "director", "", "the director's host name (default: global_defs router_id)")
	c.Flags().StringVar(&configID, "config-id", "", "keepalived's -i, for conditional lines (default: the director's name)")
	return c
}

// stdinConf is the name a keepalived.conf read from stdin goes by in
// messages ("<stdin>:12: ..."); stdinFiles gives it no other meaning.
const stdinConf = "<stdin>"

// stdinFiles is the file system of a keepalived.conf read from stdin: the
// configuration under stdinConf, its includes from disk.
type stdinFiles struct {
	conf []byte
	importer.OSFiles
}

// ReadFile returns the configuration read from stdin for stdinConf, else
// reads the file.
func (f stdinFiles) ReadFile(name string) ([]byte, error) {
	if name == stdinConf {
		return f.conf, nil
	}
	return f.OSFiles.ReadFile(name)
}

// commandLine is the command as the header comment shows it.
func commandLine(sub string, args []string, f importFlags) string {
	parts := append([]string{"lvsgen import", sub}, args...)
	if f.director != "" {
		parts = append(parts, "--director", f.director)
	}
	if f.cluster != importer.DefaultCluster {
		parts = append(parts, "--cluster", f.cluster)
	}
	return strings.Join(parts, " ")
}

// importError makes an option the import cannot use a usage error.
func importError(err error) error {
	var oe *importer.OptionError
	if errors.As(err, &oe) {
		return usageError{fmt.Errorf("import: %w", err)}
	}
	return fmt.Errorf("import: %w", err)
}

// finishImport proves the configuration, writes it and reports.
func finishImport(cmd *cobra.Command, res *importer.Result, f importFlags, name string) error {
	if err := res.Empty(); err != nil && !f.allowEmpty {
		reportNotes(cmd.ErrOrStderr(), res)
		return fmt.Errorf("import: %w; nothing was written (--allow-empty writes it anyway)", err)
	}
	if err := importer.Check(res); err != nil {
		return fmt.Errorf("import: %w (this is a bug in lvsgen; nothing was written)", err)
	}
	dest := "stdout"
	if f.outDir == "" {
		if _, err := cmd.OutOrStdout().Write(res.CUE); err != nil {
			return fmt.Errorf("import: write: %w", err)
		}
	} else {
		dest = filepath.Join(f.outDir, name+".cue")
		if err := writeNew(dest, res.CUE, f.force); err != nil {
			return err
		}
	}
	reportImport(cmd.ErrOrStderr(), res, dest)
	return nil
}

// writeNew writes b to path through a temporary file, refusing to replace
// an existing file unless force.
func writeNew(path string, b []byte, force bool) error {
	if _, err := os.Stat(path); err == nil && !force {
		return fmt.Errorf("import: %s exists; pass --force to overwrite it", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".import-*.cue.tmp")
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("import: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("import: write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	return nil
}

// reportImport summarises the import on stderr.
func reportImport(w io.Writer, res *importer.Result, dest string) {
	fmt.Fprintf(w, "lvsgen: imported %d of %d IPVS services of director %s into %s\n", len(res.Imported), len(res.Table), res.Director, dest)
	reportNotes(w, res)
}

// reportNotes lists what was not imported, what keepalived keeps and the
// warnings.
func reportNotes(w io.Writer, res *importer.Result) {
	if len(res.Skipped) > 0 {
		fmt.Fprintf(w, "lvsgen: not imported, lvsgen cannot express them (comments in the output; lvsgen leaves them alone):\n")
		for _, s := range res.Skipped {
			fmt.Fprintf(w, "  %s (%s): %s\n", s.Service.ServiceKey, s.Where, s.Reason)
		}
	}
	if len(res.Unmodelled) > 0 {
		fmt.Fprintf(w, "lvsgen: keepalived keeps doing what lvsgen does not model (comments in the output):\n")
		type count struct {
			n     int
			first string
		}
		counts := map[string]*count{}
		var order []string
		for _, u := range res.Unmodelled {
			k := u.Keyword
			if counts[k] == nil {
				counts[k] = &count{first: u.Where}
				order = append(order, k)
			}
			counts[k].n++
		}
		slices.Sort(order)
		for _, k := range order {
			c := counts[k]
			if c.n == 1 {
				fmt.Fprintf(w, "  %s (%s)\n", k, c.first)
			} else {
				fmt.Fprintf(w, "  %s: %d, the first at %s\n", k, c.n, c.first)
			}
		}
	}
	for _, n := range res.Warnings {
		fmt.Fprintf(w, "lvsgen: note: %s\n", n)
	}
}
