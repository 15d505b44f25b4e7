package watch

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// notified records what the loop sends to systemd.
func notified(h *harness) <-chan string {
	ch := make(chan string, 100)
	h.loop.Notify = func(state string) error { ch <- state; return nil }
	return ch
}

// takeNotes returns the notifications sent so far, each split into its
// assignments.
func takeNotes(ch <-chan string) [][]string {
	var got [][]string
	for {
		select {
		case s := <-ch:
			got = append(got, strings.Split(s, "\n"))
		default:
			return got
		}
	}
}

func TestNotifyReadyStatusStopping(t *testing.T) {
	h := newHarness(t)
	ch := notified(h)
	h.start()
	// 14: the link, 5 sysctls, 2 addresses, 2 services, 4 destinations
	// the applied log line counts for this config.
	got := takeNotes(ch)
	if len(got) != 1 || len(got[0]) != 2 || got[0][0] != "READY=1" ||
		!strings.HasPrefix(got[0][1], "STATUS=applied config ") || !strings.HasSuffix(got[0][1], "(start): 14 changes") {
		t.Fatalf("start: got %q, want READY=1 and the applied STATUS= in one datagram", got)
	}

	// A resync that changes nothing says nothing new.
	h.resync()
	if got := takeNotes(ch); len(got) != 1 || !strings.HasSuffix(got[0][0], "(resync): 0 changes") {
		t.Fatalf("first resync: %q", got)
	}
	h.resync()
	if got := takeNotes(ch); got != nil {
		t.Fatalf("second resync: %q, want nothing", got)
	}

	// An invalid edit: STATUS= says so, and READY=1 is not sent again.
	h.edit("services.cue", "package lvs\n\nservices: \"api\": {cluster: \"c\"\n")
	h.debounced()
	got = takeNotes(ch)
	if len(got) != 1 || len(got[0]) != 1 || !strings.HasPrefix(got[0][0], "STATUS=invalid config ") ||
		!strings.Contains(got[0][0], "; the kernel keeps config ") {
		t.Fatalf("invalid edit: %q", got)
	}
	// The resyncs keep the running config, and say the newer one is
	// not applied.
	h.resync()
	got = takeNotes(ch)
	if len(got) != 1 || !strings.HasPrefix(got[0][0], "STATUS=applied config ") ||
		!strings.Contains(got[0][0], "(resync): 0 changes; newer config ") || !strings.HasSuffix(got[0][0], " not applied: invalid") {
		t.Fatalf("resync after the invalid edit: %q", got)
	}
	// A fixed config clears it.
	h.edit("services.cue", servicesCUE(2, true))
	h.debounced()
	got = takeNotes(ch)
	if len(got) != 1 || !strings.HasPrefix(got[0][0], "STATUS=applied config ") || strings.Contains(got[0][0], "newer") {
		t.Fatalf("fixed edit: %q", got)
	}

	h.stop()
	if diff := cmp.Diff([][]string{{"STOPPING=1"}}, takeNotes(ch)); diff != "" {
		t.Errorf("stop (-want +got):\n%s", diff)
	}
}

func TestNotifyReadyWaitsForAValidConfig(t *testing.T) {
	h := newHarness(t)
	ch := notified(h)
	h.write("services.cue", "package lvs\n\nservices: \"api\": {cluster: \"c\"\n")
	if s := h.start(); s.Outcome != Invalid {
		t.Fatalf("start: %+v", s)
	}
	got := takeNotes(ch)
	if len(got) != 1 || len(got[0]) != 1 || !strings.HasPrefix(got[0][0], "STATUS=invalid config ") ||
		!strings.HasSuffix(got[0][0], "; no config applied yet") {
		t.Fatalf("invalid start: %q, want STATUS= alone", got)
	}
	h.edit("services.cue", servicesCUE(1, true))
	if s := h.debounced(); s.Outcome != Applied {
		t.Fatalf("fixed config: %+v", s)
	}
	if got := takeNotes(ch); len(got) != 1 || got[0][0] != "READY=1" {
		t.Fatalf("fixed config: %q, want READY=1", got)
	}
	h.stop()
}

func TestNotifyWatchdog(t *testing.T) {
	h := newHarness(t)
	ch := notified(h)
	// Shorter than the resync, so that the clock fires it alone.
	h.loop.Watchdog = 7 * time.Second
	h.start()
	takeNotes(ch)
	for i := range 3 {
		h.clk.Advance(7 * time.Second)
		select {
		case s := <-ch:
			if s != "WATCHDOG=1" {
				t.Fatalf("ping %d: %q", i, s)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no ping %d", i)
		}
	}
	h.stop()
}

func TestOneLine(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"plain", 10, "plain"},
		// A file name with a newline must not add an assignment.
		{"reading a\nREADY=1.cue: bad", 100, "reading a READY=1.cue: bad"},
		{"a\r\x00b", 10, "a  b"},
		{strings.Repeat("x", 20), 10, strings.Repeat("x", 7) + "..."},
		// Cut inside a two-byte rune: the half is dropped.
		{strings.Repeat("x", 6) + "é" + "yyyy", 10, "xxxxxx..."},
	} {
		if got := oneLine(tt.in, tt.n); got != tt.want {
			t.Errorf("oneLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNotifyRefusedPlan(t *testing.T) {
	h := newHarness(t)
	h.runner.MaxDeletes = 0
	ch := notified(h)
	h.start()
	takeNotes(ch)
	h.edit("services.cue", servicesCUE(1, false)) // drops the web service
	if s := h.debounced(); s.Outcome != Refused {
		t.Fatalf("%+v", s)
	}
	got := takeNotes(ch)
	if len(got) != 1 || !strings.HasPrefix(got[0][0], "STATUS=plan of config ") ||
		!strings.Contains(got[0][0], "--max-deletes 0") || !strings.Contains(got[0][0], "; the kernel keeps config ") {
		t.Fatalf("refused edit: %q", got)
	}
	h.resync()
	got = takeNotes(ch)
	if len(got) != 1 || !strings.HasSuffix(got[0][0], " not applied: plan refused") {
		t.Fatalf("resync after the refusal: %q", got)
	}
	h.stop()
}
