package packaging

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/internal/testinputs"
)

// required is the CI setting (.ci/run) under which a missing tool fails
// the test instead of skipping it.
func required() bool { return os.Getenv("LVSGEN_E2E") == "require" }

// entry is one file of a package as its packaging tool lists it.
type entry struct {
	mode  string // ls -l style, "drwx------"
	owner string // "root/root"
	flags string // rpm's file flags ("cn": config, noreplace); "" for the .deb
}

// the files both packages must hold, with their modes; the zsh directory
// differs (checked apart).
var wantFiles = map[string]string{
	"/usr/bin/lvsgen": "-rwxr-xr-x",
	"/usr/lib/systemd/system/lvsgen-watch.service":     "-rw-r--r--",
	"/usr/lib/systemd/system/lvsgen-git-pull.service":  "-rw-r--r--",
	"/usr/lib/systemd/system/lvsgen-git-pull.timer":    "-rw-r--r--",
	"/etc/default/lvsgen-watch":                        "-rw-r--r--",
	"/usr/lib/modules-load.d/lvsgen.conf":              "-rw-r--r--",
	"/var/lib/lvsgen":                                  "drwx------",
	"/usr/share/doc/lvsgen/README.md":                  "-rw-r--r--",
	"/usr/share/doc/lvsgen/LICENSE":                    "-rw-r--r--",
	"/usr/share/doc/lvsgen/OPERATIONS.md":              "-rw-r--r--",
	"/usr/share/doc/lvsgen/CONFIG.md":                  "-rw-r--r--",
	"/usr/share/bash-completion/completions/lvsgen":    "-rw-r--r--",
	"/usr/share/fish/vendor_completions.d/lvsgen.fish": "-rw-r--r--",
	"/usr/share/man/man1/lvsgen.1.gz":                  "-rw-r--r--",
	"/usr/share/man/man1/lvsgen-watch.1.gz":            "-rw-r--r--",
	"/usr/share/man/man1/lvsgen-apply.1.gz":            "-rw-r--r--",
}

// TestPackages builds the .deb and .rpm as `make package` does, checks
// what they hold, installs the .deb into a scratch root with dpkg, runs
// lvsgen from there, and verifies the units with systemd-analyze.
//
// The scratch root is not a chroot: dpkg --root with
// --force-script-chrootless unpacks into it, registers the package in its
// own database (conffiles included) and runs the maintainer scripts on
// this host with DPKG_ROOT set, which they honour by leaving systemd
// alone. That proves the file list, modes and ownership as dpkg installs
// them, the conffile kept across a reinstall, the scripts' exit status,
// and that the binary runs with no library from the root. It does not
// prove the scripts' systemctl calls, which only a booted system runs.
func TestPackages(t *testing.T) {
	if testing.Short() {
		t.Skip("packaging: builds the .deb and .rpm; not with -short")
	}
	for _, tool := range []string{"git", "dpkg", "dpkg-deb", "rpm", "systemd-analyze", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			if required() {
				t.Fatalf("packaging: %s not found (LVSGEN_E2E=require); run scripts/package-deps.sh", tool)
			}
			t.Skipf("packaging: %s not found; run scripts/package-deps.sh", tool)
		}
	}
	testinputs.Consult(t, "..")
	out := t.TempDir()
	run(t, "..", "bash", "scripts/package.sh", out)

	debs, _ := filepath.Glob(filepath.Join(out, "lvsgen_*_amd64.deb"))
	rpms, _ := filepath.Glob(filepath.Join(out, "lvsgen-*.x86_64.rpm"))
	if len(debs) != 1 || len(rpms) != 1 {
		t.Fatalf("want one .deb and one .rpm in %s, got %v %v", out, debs, rpms)
	}
	deb, rpm := debs[0], rpms[0]
	version := strings.TrimSpace(run(t, "", "dpkg-deb", "-f", deb, "Version"))
	if !strings.Contains(filepath.Base(rpm), "-"+version+"-") {
		t.Errorf("the .rpm %s is not of version %s", rpm, version)
	}

	t.Run("checksums", func(t *testing.T) {
		sums := run(t, out, "sha256sum", "--check", "--strict", "SHA256SUMS")
		for _, p := range []string{deb, rpm} {
			if !strings.Contains(sums, filepath.Base(p)+": OK") {
				t.Errorf("SHA256SUMS does not cover %s:\n%s", filepath.Base(p), sums)
			}
		}
	})
	t.Run("deb contents", func(t *testing.T) {
		files := debContents(t, deb)
		checkFiles(t, files, "/usr/share/zsh/vendor-completions/_lvsgen")
		if got := strings.TrimSpace(run(t, "", "dpkg-deb", "-I", deb, "conffiles")); got != "/etc/default/lvsgen-watch" {
			t.Errorf("conffiles %q, want /etc/default/lvsgen-watch alone", got)
		}
		checkUnitPaths(t, files)
	})
	t.Run("rpm contents", func(t *testing.T) {
		files := rpmContents(t, rpm)
		checkFiles(t, files, "/usr/share/zsh/site-functions/_lvsgen")
		for path, e := range files {
			want := ""
			if path == "/etc/default/lvsgen-watch" {
				want = "cn" // %config(noreplace): an edited file stays, ours goes to .rpmnew
			}
			if e.flags != want {
				t.Errorf("%s: rpm file flags %q, want %q", path, e.flags, want)
			}
		}
	})
	t.Run("install", func(t *testing.T) {
		root := installDeb(t, deb)
		bin := filepath.Join(root, "usr/bin/lvsgen")
		checkStatic(t, bin)
		commit := strings.TrimSpace(run(t, "..", "git", "rev-parse", "HEAD"))
		got := run(t, "", bin, "--version")
		if want := "lvsgen v" + version + " (commit " + commit + ", go"; !strings.HasPrefix(got, want) {
			t.Errorf("lvsgen --version = %q, want %q…", got, want)
		}
		st, err := os.Stat(filepath.Join(root, "var/lib/lvsgen"))
		if err != nil {
			t.Fatal(err)
		}
		if !st.IsDir() || st.Mode().Perm() != 0o700 {
			t.Errorf("/var/lib/lvsgen: %s, want a 0700 directory", st.Mode())
		}

		// An operator's edit survives a reinstall of the package.
		conf := filepath.Join(root, "etc/default/lvsgen-watch")
		edited := readFile(t, conf) + "LVSGEN_HOST=lb9\n"
		if err := os.WriteFile(conf, []byte(edited), 0o644); err != nil {
			t.Fatal(err)
		}
		dpkg(t, root, "-i", deb)
		if got := readFile(t, conf); got != edited {
			t.Errorf("the reinstall replaced the edited conffile:\n%s", got)
		}
		if leftovers, _ := filepath.Glob(conf + ".dpkg-*"); len(leftovers) > 0 {
			t.Errorf("the reinstall left %v", leftovers)
		}

		// Removal keeps the state and the settings; purge drops the
		// settings.
		state := filepath.Join(root, "var/lib/lvsgen/nat1.state.json")
		if err := os.WriteFile(state, []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
		dpkg(t, root, "-r", "lvsgen")
		for _, p := range []string{state, conf} {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("removal took %s: %v", p, err)
			}
		}
		if _, err := os.Stat(bin); err == nil {
			t.Errorf("removal left the binary")
		}
		dpkg(t, root, "--purge", "lvsgen")
		if _, err := os.Stat(conf); err == nil {
			t.Errorf("purge left %s", conf)
		}
	})
	t.Run("systemd-analyze verify", func(t *testing.T) {
		root := installDeb(t, deb)
		verifyUnits(t, root)
	})
}

// run runs a command in dir and returns its stdout; a failure fails the
// test with its output.
func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// debLine is a line of dpkg-deb -c: mode, owner/group, size, date, time,
// path (./usr/bin/lvsgen).
var debLine = regexp.MustCompile(`^([-dlrwxsStT]{10}) (\S+) +\d+ \S+ \S+ \.(/\S*)$`)

func debContents(t *testing.T, deb string) map[string]entry {
	t.Helper()
	files := map[string]entry{}
	for _, line := range strings.Split(strings.TrimSpace(run(t, "", "dpkg-deb", "-c", deb)), "\n") {
		m := debLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("dpkg-deb -c: cannot read %q", line)
		}
		if m[1][0] == 'd' && m[3] != "/var/lib/lvsgen/" {
			continue // parents
		}
		files[strings.TrimSuffix(m[3], "/")] = entry{mode: m[1], owner: m[2]}
	}
	return files
}

func rpmContents(t *testing.T, rpm string) map[string]entry {
	t.Helper()
	files := map[string]entry{}
	out := run(t, "", "rpm", "-qp", "--qf", `[%{FILENAMES}\t%{FILEMODES:perms}\t%{FILEUSERNAME}/%{FILEGROUPNAME}\t%{FILEFLAGS:fflags}\n]`, rpm)
	// Not TrimSpace: the last line's flags may be empty.
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			t.Fatalf("rpm -qp: cannot read %q", line)
		}
		files[f[0]] = entry{mode: f[1], owner: f[2], flags: f[3]}
	}
	return files
}

// checkFiles checks wantFiles and the zsh completion are in files, owned
// by root, and that each command has a man page.
func checkFiles(t *testing.T, files map[string]entry, zsh string) {
	t.Helper()
	want := map[string]string{zsh: "-rw-r--r--"}
	for p, m := range wantFiles {
		want[p] = m
	}
	for p, mode := range want {
		e, ok := files[p]
		switch {
		case !ok:
			t.Errorf("no %s", p)
		case e.mode != mode || e.owner != "root/root":
			t.Errorf("%s: %s %s, want %s root/root", p, e.mode, e.owner, mode)
		}
	}
	for p, e := range files {
		if e.owner != "root/root" {
			t.Errorf("%s owned by %s", p, e.owner)
		}
	}
	var pages []string
	for p := range files {
		if strings.HasPrefix(p, "/usr/share/man/man1/") {
			pages = append(pages, strings.TrimPrefix(p, "/usr/share/man/man1/"))
		}
	}
	for _, cmd := range []string{"validate", "render", "plan", "apply", "watch", "status", "import", "policy", "version"} {
		if !contains(pages, "lvsgen-"+cmd+".1.gz") {
			t.Errorf("no man page of lvsgen %s in %v", cmd, pages)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkUnitPaths checks the watch unit names files the package installs:
// the issue was a Documentation= that nothing installed.
func checkUnitPaths(t *testing.T, files map[string]entry) {
	t.Helper()
	unit := readFile(t, "../deploy/lvsgen-watch.service")
	var got []string
	for _, line := range strings.Split(unit, "\n") {
		for _, key := range []string{"ExecStart=", "Documentation=", "EnvironmentFile=-"} {
			if v, ok := strings.CutPrefix(line, key); ok {
				path := strings.Fields(strings.TrimPrefix(v, "file://"))[0]
				got = append(got, key+path)
				if _, ok := files[path]; !ok {
					t.Errorf("the unit's %s%s is not in the package", key, path)
				}
			}
		}
	}
	want := []string{"Documentation=/usr/share/doc/lvsgen/OPERATIONS.md", "EnvironmentFile=-/etc/default/lvsgen-watch", "ExecStart=/usr/bin/lvsgen"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the unit's paths (-want +got):\n%s", diff)
	}
}

// installDeb installs deb into a new scratch root: an empty dpkg database
// is all dpkg --root needs.
func installDeb(t *testing.T, deb string) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/updates", "var/lib/dpkg/info"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dpkg(t, root, "-i", deb)
	if got := run(t, "", "dpkg", "--root="+root, "-s", "lvsgen"); !strings.Contains(got, "Status: install ok installed") {
		t.Fatalf("dpkg -s after install:\n%s", got)
	}
	return root
}

// dpkg runs dpkg on the scratch root. The maintainer scripts run on this
// host (not chrooted: the root has no shell) with DPKG_ROOT set.
func dpkg(t *testing.T, root string, args ...string) {
	t.Helper()
	run(t, "", "dpkg", append([]string{"--root=" + root, "--force-script-chrootless", "--force-not-root", "--log=/dev/null"}, args...)...)
}

// checkStatic checks bin asks for no dynamic loader: it runs on any
// balancer whatever its libc.
func checkStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s is dynamically linked (%s)", bin, p.Type)
		}
	}
}

// verifyUnits runs systemd-analyze verify on the installed units with the
// scratch root as root, so that ExecStart= must name the binary the
// package installed. The root also gets the host's own units (the targets
// ours are ordered against) and stand-ins for the two commands the units
// run from other packages (kill for reload, git for the pull). Any message
// fails: systemd-analyze exits 0 on an unknown setting's warning.
func verifyUnits(t *testing.T, root string) {
	t.Helper()
	unitDir := filepath.Join(root, "usr/lib/systemd/system")
	for _, hostDir := range []string{"/usr/lib/systemd/system", "/lib/systemd/system"} {
		entries, _ := os.ReadDir(hostDir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "lvsgen") || e.IsDir() {
				continue
			}
			b, err := os.ReadFile(filepath.Join(hostDir, e.Name()))
			if err != nil {
				continue // a dangling link to a masked unit
			}
			os.WriteFile(filepath.Join(unitDir, e.Name()), b, 0o644)
		}
	}
	for _, standIn := range []string{"bin/kill", "usr/bin/git"} {
		p := filepath.Join(root, standIn)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("systemd-analyze", "verify", "--man=no", "--root="+root,
		"lvsgen-watch.service", "lvsgen-git-pull.service", "lvsgen-git-pull.timer")
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
