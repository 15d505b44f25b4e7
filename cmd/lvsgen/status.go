package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lvsgen/lvsgen/applier"
	"github.com/lvsgen/lvsgen/health"
	"github.com/lvsgen/lvsgen/watch"
)

// staleAfter is the age past which status says the health file is old:
// watch saves it every watch.DefaultHealthSave, so a file several periods
// old means watch is not running, and the states may be out of date.
const staleAfter = 6 * watch.DefaultHealthSave

// now is the clock of status; tests replace it.
var now = time.Now

func newStatus() *cobra.Command {
	var host, stateDir, format string
	c := &cobra.Command{
		Use:   "status --host NAME",
		Short: "Show the health of each real server, as lvsgen watch last saw it",
		Long: `status prints, per service, each checked real server's health as 'lvsgen
watch' decides it on this host: up or down and since when, the last check's
result and time, and the consecutive passes or failures counting towards the
next change.

It reads the file watch keeps in --state-dir (HOST.health.json), written at
every change and every few seconds. A file, not a socket: it needs no
listener inside the root process that writes the kernel, its access control
is the file's own (root only, 0600: it names every real server and why it
failed), and it still answers when watch is stopped — with the health a
restart will start from. Its age is shown; an old file means watch is not
running.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if host == "" {
				return usageError{errors.New("--host NAME is required")}
			}
			if format != "text" && format != "json" {
				return usageError{fmt.Errorf("unknown --format %q: want text or json", format)}
			}
			path := health.SnapshotPath(stateDir, host)
			snap, err := health.ReadSnapshot(path)
			if errors.Is(err, health.ErrNoSnapshot) {
				return fmt.Errorf("no health saved for host %s in %s: lvsgen watch has not run here with health checks", host, stateDir)
			}
			if err != nil {
				return err
			}
			if format == "json" {
				return writeStatusJSON(cmd.OutOrStdout(), host, snap)
			}
			return writeStatusText(cmd.OutOrStdout(), host, snap, now())
		},
	}
	c.Flags().StringVar(&host, "host", "", "the host whose health to show (required)")
	c.Flags().StringVar(&stateDir, "state-dir", applier.DefaultStateDir, "where lvsgen watch keeps the host's state and health")
	c.Flags().StringVar(&format, "format", "text", "text or json")
	return c
}

// statusJSON is status's JSON form: the snapshot with the host it is of.
type statusJSON struct {
	Version int                     `json:"version"`
	Host    string                  `json:"host"`
	Saved   time.Time               `json:"saved"`
	Targets []health.SnapshotTarget `json:"targets"`
}

func writeStatusJSON(w io.Writer, host string, s health.Snapshot) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(statusJSON{Version: s.Version, Host: host, Saved: s.Saved, Targets: s.Targets})
}

// statusTime is how status gives times: to the second, UTC, as the
// snapshot stores them.
const statusTime = "2006-01-02 15:04:05Z"

func writeStatusText(w io.Writer, host string, s health.Snapshot, now time.Time) error {
	age := now.Sub(s.Saved).Round(time.Second)
	fmt.Fprintf(w, "Health of %s, saved %s (%s ago)\n", host, s.Saved.UTC().Format(statusTime), age)
	if age > staleAfter {
		fmt.Fprintf(w, "warning: saved more than %s ago: lvsgen watch is not running, these states may be out of date\n", staleAfter)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	service := ""
	for _, t := range s.Targets {
		if t.Service != service {
			service = t.Service
			fmt.Fprintf(tw, "\nservice %s\n", service)
			fmt.Fprintln(tw, "  REAL\tSTATE\tSINCE\tCHECK\tLAST RESULT\tCOUNT")
		}
		state := "up"
		if !t.Up {
			state = "DOWN"
		}
		check := string(t.Type)
		if t.Addr != "" {
			check += " " + t.Addr
		}
		last := "none yet"
		if !t.At.IsZero() {
			last = "fail"
			if t.OK {
				last = "ok"
			}
			last += " at " + t.At.UTC().Format(statusTime)
			if t.Detail != "" {
				last += ": " + t.Detail
			}
		}
		count := ""
		switch {
		case t.Fails > 0:
			count = fmt.Sprintf("%d failed", t.Fails)
		case t.Passes > 0:
			count = fmt.Sprintf("%d passed", t.Passes)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", t.Real, state, t.Since.UTC().Format(statusTime), check, last, count)
	}
	return tw.Flush()
}
