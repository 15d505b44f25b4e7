package compiler

import (
	"crypto/sha256"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/lvsgen/lvsgen/diag"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/internal/gen"
	"github.com/lvsgen/lvsgen/model"
)

// mapMemo is a ServiceMemo filled from results, as the compile cache
// fills its own; it counts what it gives.
type mapMemo struct {
	m     map[ServiceKey]*model.Service
	files map[[sha256.Size]byte]*FileServices
	hosts map[HostKey]bool
	world map[WorldKey]*World
	// filesGiven counts the files given (not read), hostsKnown the
	// hosts known to build without a conflict, worlds the worlds given.
	filesGiven, hostsKnown, worlds atomic.Int64
}

func (m *mapMemo) World(k WorldKey) *World {
	w := m.world[k]
	if w != nil {
		m.worlds.Add(1)
	}
	return w
}

func (m *mapMemo) Host(k HostKey) bool {
	if m.hosts[k] {
		m.hostsKnown.Add(1)
	}
	return m.hosts[k]
}

func (m *mapMemo) Service(k ServiceKey) *model.Service { return m.m[k] }

func (m *mapMemo) File(sum [sha256.Size]byte) *FileServices {
	fs := m.files[sum]
	if fs != nil {
		m.filesGiven.Add(1)
	}
	return fs
}

// fill replaces the memo with res's services and files.
func (m *mapMemo) fill(res *Result) {
	m.m = map[ServiceKey]*model.Service{}
	m.files = res.FileServices()
	m.world = map[WorldKey]*World{}
	if k, w := res.World(); w != nil {
		m.world[k] = w
	}
	m.hosts = map[HostKey]bool{}
	for _, k := range res.HostKeys() {
		m.hosts[k] = true
	}
	if res.Config == nil {
		return
	}
	for _, s := range res.Config.Services {
		if k, ok := res.ServiceKeys()[s.Name]; ok {
			m.m[k] = s
		}
	}
}

// TestServiceMemo edits a config between one-shot compiles that each get
// a memo of the previous valid compile's services, and requires after
// each edit exactly what a compile without a memo gives, with the
// services that did not change (text and world) taken from the memo.
func TestServiceMemo(t *testing.T) {
	dir := t.TempDir()
	if err := gen.Write(dir, 300, 10); err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	write := func(name, s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	replaceOnce := func(s, old, new string) string {
		t.Helper()
		if !strings.Contains(s, old) {
			t.Fatalf("no %q to replace", old)
		}
		return strings.Replace(s, old, new, 1)
	}
	orig, hosts := read("services-0001.cue"), read("hosts.cue")
	// The last service of services-0001.cue, as gen writes it (not the
	// one the weight edits change), moved to a file of its own in one
	// step.
	start := strings.LastIndex(orig, "\t\"svc-")
	end := start + strings.Index(orig[start:], "\n\t}\n") + len("\n\t}\n")
	if start < 0 || end < start {
		t.Fatal("no service in services-0001.cue")
	}
	first := orig[start:end]
	steps := []struct {
		name string
		edit func()
		// hits is how many services the memo must give, files how
		// many files it must give (not read: gen writes 100 services
		// a file, and hosts.cue, which is read).
		hits, files int
		valid       bool
	}{
		{"first", func() {}, 0, 0, true},
		{"unchanged", func() {}, 300, 3, true},
		{"one weight", func() { write("services-0001.cue", replaceOnce(orig, "weight: 1}", "weight: 9}")) }, 299, 2, true},
		// Lines moved: positions are not in a key.
		{"lines moved", func() { write("services-0001.cue", "// a comment\n\n"+replaceOnce(orig, "weight: 1}", "weight: 9}")) }, 300, 2, true},
		{"service moved to its own file", func() {
			write("services-0001.cue", strings.Replace(replaceOnce(orig, "weight: 1}", "weight: 9}"), first, "", 1))
			write("moved.cue", "package lvs\n\nservices: {\n"+first+"}\n")
		}, 300, 2, true},
		// The weight edited back: that service is not in the memo.
		{"moved back", func() { write("services-0001.cue", orig); os.Remove(filepath.Join(dir, "moved.cue")) }, 299, 2, true},
		{"an error", func() { write("services-0001.cue", replaceOnce(orig, "weight: 1}", "weight: -9}")) }, 0, 2, false},
		{"fixed", func() { write("services-0001.cue", orig) }, 300, 3, true},
		{"duplicate VIP", func() {
			write("extra.cue", "package lvs\n\nservices: extra: {cluster: \"big\", vip: \"172.16.0.0\", port: 80, reals: [{host: \"rs1\"}]}\n")
		}, 0, 3, false},
		{"a new service", func() {
			write("extra.cue", "package lvs\n\nservices: extra: {cluster: \"big\", vip: \"172.31.0.1\", port: 80, reals: [{host: \"rs1\"}]}\n")
		}, 300, 3, true},
		{"a field added", func() {
			write("extra.cue", "package lvs\n\nservices: extra: {cluster: \"big\", vip: \"172.31.0.1\", port: 80, scheduler: \"wlc\", reals: [{host: \"rs1\"}]}\n")
		}, 300, 3, true},
		// Hosts are every service's world: nothing is taken.
		{"hosts changed", func() {
			write("hosts.cue", hosts+"\nhosts: spare: {managed: false, interfaces: eth0: addresses: [\"10.250.0.1/24\"]}\n")
		}, 0, 4, true},
		{"hosts back", func() { write("hosts.cue", hosts) }, 0, 4, true},
		{"same again", func() {}, 301, 4, true},
		{"not plain data", func() {
			write("extra.cue", "package lvs\n\n_port: 80\nservices: extra: {cluster: \"big\", vip: \"172.31.0.1\", port: _port, reals: [{host: \"rs1\"}]}\n")
		}, 0, 3, true},
		{"plain again", func() { os.Remove(filepath.Join(dir, "extra.cue")) }, 0, 0, true},
		{"and again", func() {}, 300, 3, true},
		// A service written in two files is unified by CUE: a file the
		// memo gives is not used then (every file is read), and a file
		// whose service is unified with another's is not kept.
		{"one service in two files", func() { write("extra.cue", "package lvs\n\nservices: \"svc-5\": {cluster: \"big\"}\n") }, 300, 3, true},
		{"and again, two files", func() {}, 300, 2, true},
		// A service that warns is compiled each time (it is not
		// kept), and its warning has its place in the file read: the
		// memo gives the others, with the warning, as a compile
		// without it would report it.
		{"a service that warns", func() {
			write("extra.cue", "package lvs\n\nservices: extra: {cluster: \"big\", vip: \"172.31.0.1\", port: 80, reals: [{host: \"rs1\", weight: 0}]}\n")
		}, 300, 2, true},
		{"still warning, after an edit", func() { write("services-0001.cue", replaceOnce(orig, "weight: 1}", "weight: 7}")) }, 299, 2, true},
		{"the edit undone", func() { write("services-0001.cue", orig) }, 299, 2, true},
		// A warning that relates to a place in hosts.cue, with the
		// world from the memo, which has no position for it: made
		// again without the memo, so that the place is given.
		{"a path MTU", func() {
			os.Remove(filepath.Join(dir, "extra.cue"))
			write("hosts.cue", replaceOnce(hosts, "\tvip: bind: \"none\"\n", "\tvip: bind: \"none\"\n\tpathMTU: 1500\n"))
		}, 0, 3, true},
		{"the world with the MTU from the memo", func() {}, 300, 3, true},
		{"a tunnel too wide for it", func() {
			write("services-0001.cue", replaceOnce(orig, "\t\tcluster: \"big\"\n", "\t\tcluster: \"big\"\n\t\tforwarding: \"tun\"\n"))
		}, 0, 2, true},
		{"the MTU gone", func() { write("hosts.cue", hosts); write("services-0001.cue", orig) }, 0, 0, true},
		// A world that warns (two directors binding the VIPs) is not
		// kept: the warning is the world's checks', which a world
		// taken from the memo skips. Its warning has its place in
		// hosts.cue, read each time: after an edit the memo gives the
		// services.
		{"a world warning", func() {
			os.Remove(filepath.Join(dir, "extra.cue"))
			write("hosts.cue", replaceOnce(hosts, `bind: "none"`, `bind: "dummy"`))
		}, 0, 3, true},
		{"the warning again after an edit", func() { write("services-0001.cue", replaceOnce(orig, "weight: 1}", "weight: 8}")) }, 299, 2, true},
		{"clean again", func() {
			write("hosts.cue", hosts)
			write("services-0001.cue", orig)
		}, 0, 2, true},
		// Every service new, the hosts and clusters as they were (the
		// world from the memo, no service from it), and a VIP that is
		// lb1's address, whose diagnostic points at lb1's interface in
		// hosts.cue: it is a fresh compile's, position included.
		{"every service new, one wrong", func() {
			for i, f := range []string{"services-0000.cue", "services-0001.cue", "services-0002.cue"} {
				write(f, fmt.Sprintf("package lvs\n\nservices: new%d: {cluster: \"big\", vip: \"172.31.1.%d\", port: 80, reals: [{host: \"rs1\"}]}\n", i, i))
			}
			write("services-0002.cue", "package lvs\n\nservices: new2: {cluster: \"big\", vip: \"10.0.0.2\", port: 80, reals: [{host: \"rs1\"}]}\n")
		}, 0, 0, false},
	}
	wantWorlds := map[string]int64{"first": 0, "unchanged": 1, "one weight": 1, "hosts changed": 0, "hosts back": 0, "same again": 1, "plain again": 0, "and again": 1,
		"the world with the MTU from the memo": 1, "a tunnel too wide for it": 1}
	addrs := cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}, netip.AddrPort{})
	memo := &mapMemo{}
	for _, st := range steps {
		st.edit()
		memo.filesGiven.Store(0)
		memo.worlds.Store(0)
		got, err := CompileWith(dir, Options{Memo: memo})
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		want := againstFresh(t, st.name, "with a memo", dir, got, st.valid)
		// An invalid config is compiled again without the memo: none.
		if got.memoHits != st.hits {
			t.Errorf("%s: %d services from the memo, want %d", st.name, got.memoHits, st.hits)
		}
		// The hosts and clusters are evaluated again only when their
		// files changed (or the last compile was invalid, or not plain).
		if w, ok := wantWorlds[st.name]; ok && memo.worlds.Load() != w {
			t.Errorf("%s: %d worlds from the memo, want %d", st.name, memo.worlds.Load(), w)
		}
		// Counted over every attempt: a compile that cannot use the
		// files given (another world, an error) reads them again.
		if n := memo.filesGiven.Load(); n != int64(st.files) {
			t.Errorf("%s: %d files from the memo, want %d", st.name, n, st.files)
		}
		// plan and apply want one host: the others the memo knows are
		// not built, and the one wanted is the same.
		memo.hostsKnown.Store(0)
		one, err := CompileWith(dir, Options{Memo: memo, Host: "lb1"})
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if diff := cmp.Diff(want.Diagnostics, one.Diagnostics); diff != "" {
			t.Errorf("%s: diagnostics for lb1 (-without +with a memo):\n%s", st.name, diff)
		}
		if want.Valid() {
			if diff := cmp.Diff(want.Hosts["lb1"], one.Hosts["lb1"], addrs); diff != "" || one.Hosts["lb1"] == nil {
				t.Errorf("%s: lb1's state (-without +with a memo):\n%s", st.name, diff)
			}
		}
		// (A compile that reports something may be made again without
		// the memo, building every host.)
		if want.Valid() && len(want.Diagnostics) == 0 {
			if known := int(memo.hostsKnown.Load()); len(one.Hosts)+known != len(want.Hosts) {
				t.Errorf("%s: %d hosts built and %d known, of %d", st.name, len(one.Hosts), known, len(want.Hosts))
			}
			if st.hits == len(want.Config.Services) && len(one.Hosts) != 1 {
				t.Errorf("%s: nothing changed, yet %d hosts were built", st.name, len(one.Hosts))
			}
		}
		if got.Valid() {
			if len(got.ServiceKeys()) != len(got.Config.Services) && got.viaTree && len(got.Diagnostics) == 0 {
				t.Errorf("%s: %d keys for %d services", st.name, len(got.ServiceKeys()), len(got.Config.Services))
			}
			memo.fill(got)
		}
	}
}

// TestHostKeyOf: a host's key changes with its world, its name, and any
// service it carries (its key, or what the host is to it), so that a
// host known to build without a conflict is never one whose inputs
// changed.
func TestHostKeyOf(t *testing.T) {
	cfg := &model.Config{Services: []*model.Service{{Name: "a"}, {Name: "b"}}}
	keys := map[string]ServiceKey{"a": {1}, "b": {2}}
	parts := []hoststate.Part{{Service: 0, Real: hoststate.DirectorPart}, {Service: 1, Real: 3}}
	world := [sha256.Size]byte{9}
	base, ok := hostKeyOf(world, "h", cfg, parts, keys)
	if !ok {
		t.Fatal("no key")
	}
	if again, _ := hostKeyOf(world, "h", cfg, slices.Clone(parts), keys); again != base {
		t.Error("the same inputs, another key")
	}
	for name, k := range map[string]func() (HostKey, bool){
		"another world": func() (HostKey, bool) { return hostKeyOf([sha256.Size]byte{8}, "h", cfg, parts, keys) },
		"another host":  func() (HostKey, bool) { return hostKeyOf(world, "g", cfg, parts, keys) },
		"a service changed": func() (HostKey, bool) {
			return hostKeyOf(world, "h", cfg, parts, map[string]ServiceKey{"a": {1}, "b": {3}})
		},
		"another real server": func() (HostKey, bool) {
			return hostKeyOf(world, "h", cfg, []hoststate.Part{parts[0], {Service: 1, Real: 4}}, keys)
		},
		"sorry server": func() (HostKey, bool) {
			return hostKeyOf(world, "h", cfg, []hoststate.Part{parts[0], {Service: 1, Real: hoststate.SorryPart}}, keys)
		},
		"a service less": func() (HostKey, bool) { return hostKeyOf(world, "h", cfg, parts[:1], keys) },
		"in another order": func() (HostKey, bool) {
			return hostKeyOf(world, "h", cfg, []hoststate.Part{parts[1], parts[0]}, keys)
		},
	} {
		if got, ok := k(); !ok || got == base {
			t.Errorf("%s: the same key (ok %v)", name, ok)
		}
	}
	if _, ok := hostKeyOf(world, "h", cfg, parts, map[string]ServiceKey{"a": {1}}); ok {
		t.Error("a key for a host carrying a service without one")
	}
}

// TestValidView: a service the memo gives gets a view made without
// Validate; for a valid service that is NewView's view exactly, over the
// services of the example and of every e2e config.
func TestValidView(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join("..", "e2e", "compile", "testdata", "*"))
	dirs = append(dirs, filepath.Join("..", "examples"))
	n := 0
	for _, dir := range dirs {
		res, err := Compile(dir)
		if err != nil || !res.Valid() {
			continue
		}
		for _, s := range res.Config.Services {
			v := hoststate.NewView(s)
			if v.Err != nil {
				t.Errorf("%s: service %s is valid, its view not: %v", dir, s.Name, v.Err)
				continue
			}
			n++
			if diff := cmp.Diff(v, hoststate.NewValidView(s), cmpopts.EquateComparable(netip.Addr{}, netip.AddrPort{})); diff != "" {
				t.Errorf("%s: service %s (-NewView +NewValidView):\n%s", dir, s.Name, diff)
			}
		}
	}
	if n < 100 {
		t.Errorf("compared %d views; the configs have more", n)
	}
}

// TestWarnedInPlace: a result that took from the memo is kept with what
// it reports only when that is warnings, each placed (and each place it
// relates to) in a file the compile read.
func TestWarnedInPlace(t *testing.T) {
	warn := func(file string, line int, related ...diag.Related) diag.Diagnostic {
		return diag.Diagnostic{Severity: diag.Warning, Rule: "r", Pos: diag.Pos{File: file, Line: line, Column: 1}, Message: "m", Related: related}
	}
	rel := func(file string, line int) diag.Related {
		return diag.Related{File: file, Line: line, Col: 1, Message: "here"}
	}
	files := []string{"a.cue", "b.cue", "c.cue"}
	gave := map[string]bool{"c.cue": true}
	for _, c := range []struct {
		name  string
		diags diag.List
		want  bool
	}{
		{"placed in files read", diag.List{warn("a.cue", 3), warn("b.cue", 9, rel("a.cue", 1))}, true},
		{"an error", diag.List{warn("a.cue", 3), {Severity: diag.Error, Rule: "r", Pos: diag.Pos{File: "a.cue", Line: 4}, Message: "m"}}, false},
		{"no place", diag.List{warn("", 0)}, false},
		{"a file but no line", diag.List{warn("a.cue", 0)}, false},
		{"in a file the memo gave", diag.List{warn("c.cue", 2)}, false},
		{"in a file not of the config", diag.List{warn("schema/config.cue", 2)}, false},
		{"relating to no place", diag.List{warn("a.cue", 3, rel("", 0))}, false},
		{"relating to a file the memo gave", diag.List{warn("a.cue", 3, rel("c.cue", 5))}, false},
	} {
		r := &Result{Files: files, Diagnostics: c.diags, memoGave: gave}
		if got := r.warnedInPlace(); got != c.want {
			t.Errorf("%s: warnedInPlace %v, want %v", c.name, got, c.want)
		}
	}
}
