package vm

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// baseRecipe is bumped whenever the layout of the base changes in a way the
// cache key would not otherwise notice.
const baseRecipe = "base-v1"

// RequiredModules are the kernel modules the base must contain; boot fails
// to prepare when the kernel package lacks one. They are all loaded at boot.
var RequiredModules = []string{
	"ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_lc", "ip_vs_wlc", "ip_vs_lblc",
	"ip_vs_lblcr", "ip_vs_dh", "ip_vs_sh", "ip_vs_sed", "ip_vs_nq",
	"ip_vs_fo", "ip_vs_ovf", "ip_vs_mh",
	"ipip", "ip_gre", "fou", "veth", "bridge", "dummy",
	"nf_conntrack", "nf_tables",
	// FULLNAT's source NAT: a nat chain, ct matches and snat.
	"nf_nat", "nft_ct", "nft_nat", "nft_chain_nat",
}

// OptionalModules are included (and loaded at boot) when the kernel package
// has them.
var OptionalModules = []string{
	"ip_vs_ftp", "ip_vs_pe_sip", "gre", "fou6", "ip6_tunnel", "ip6_gre",
	"sit", "macvlan", "8021q", "nf_conntrack_netlink",
}

// tool is a host program copied into the guest with its shared libraries.
type tool struct {
	names    []string // host candidates: absolute paths or names looked up in PATH
	guest    string   // path inside the guest
	required bool
}

var tools = []tool{
	{names: []string{"busybox"}, guest: "/bin/busybox", required: true},
	{names: []string{"/sbin/ip", "/bin/ip", "/usr/sbin/ip", "/usr/bin/ip"}, guest: "/sbin/ip", required: true},
	{names: []string{"/usr/sbin/ipvsadm", "/sbin/ipvsadm", "ipvsadm"}, guest: "/sbin/ipvsadm", required: true},
	{names: []string{"/usr/sbin/nft", "/sbin/nft", "nft"}, guest: "/sbin/nft"},
	{names: []string{"/usr/bin/ss", "/bin/ss", "ss"}, guest: "/bin/ss"},
	{names: []string{"/usr/sbin/bridge", "/sbin/bridge", "bridge"}, guest: "/sbin/bridge"},
	{names: []string{"/usr/sbin/keepalived", "/sbin/keepalived", "keepalived"}, guest: "/sbin/keepalived"},
	// BIRD 2, the BGP speaker of e2e/failover's active-active test: the
	// router and each director run one.
	{names: []string{"/usr/sbin/bird", "/sbin/bird", "bird"}, guest: "/sbin/bird"},
	{names: []string{"/usr/sbin/birdc", "/sbin/birdc", "birdc"}, guest: "/sbin/birdc"},
}

// busybox applets never linked, because a real tool or /init takes the name.
var skipApplets = map[string]bool{"ip": true, "init": true, "linuxrc": true}

// Base is the cached, run-independent part of a VM: the kernel image and an
// initramfs archive with the kernel modules, busybox, ipvsadm, iproute2 and
// the shared libraries they need.
type Base struct {
	// Dir is the cache directory holding this base.
	Dir string
	// Kernel is the path of the kernel image (vmlinuz).
	Kernel string
	// Archive is the path of the base initramfs (newc cpio, uncompressed).
	Archive string
	// Release is the kernel release, as uname -r prints it in the guest.
	Release string
	// Deb is the kernel package the base was made from.
	Deb string
	// Modules lists the modules /init loads at boot.
	Modules []string
}

// MissingError reports a prerequisite of the harness that is not installed.
type MissingError struct {
	// What is missing, e.g. "qemu-system-x86_64".
	What string
	// Hint tells how to get it.
	Hint string
}

// Error says what is missing and how to get it.
func (e *MissingError) Error() string {
	return fmt.Sprintf("%s not found; %s", e.What, e.Hint)
}

const depsHint = "run scripts/e2e-deps.sh"

// DefaultCacheDir returns $LVSGEN_E2E_CACHE, or $HOME/.cache/lvsgen-e2e.
func DefaultCacheDir() string {
	if d := os.Getenv("LVSGEN_E2E_CACHE"); d != "" {
		return d
	}
	home := os.Getenv("HOME")
	if home == "" {
		home = "/root"
	}
	return filepath.Join(home, ".cache", "lvsgen-e2e")
}

// FindQemu returns the path of qemu-system-x86_64, or a *MissingError.
func FindQemu() (string, error) {
	p, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return "", &MissingError{What: "qemu-system-x86_64", Hint: depsHint}
	}
	return p, nil
}

// FindKernelDeb returns the newest linux-image .deb in cacheDir/debs, or a
// *MissingError.
func FindKernelDeb(cacheDir string) (string, error) {
	matches, _ := filepath.Glob(filepath.Join(cacheDir, "debs", "linux-image-*.deb"))
	if len(matches) == 0 {
		return "", &MissingError{What: "kernel package (" + filepath.Join(cacheDir, "debs", "linux-image-*.deb") + ")", Hint: depsHint}
	}
	best, bestTime := "", int64(0)
	for _, m := range matches {
		st, err := os.Stat(m)
		if err != nil {
			continue
		}
		if t := st.ModTime().UnixNano(); best == "" || t > bestTime {
			best, bestTime = m, t
		}
	}
	return best, nil
}

// CheckPrerequisites reports the first missing prerequisite as a
// *MissingError: qemu, the kernel package, the host tools copied into the
// guest, dpkg-deb and depmod.
func CheckPrerequisites(cacheDir string) error {
	if _, err := FindQemu(); err != nil {
		return err
	}
	if _, err := FindKernelDeb(cacheDir); err != nil {
		return err
	}
	for _, tl := range tools {
		if _, err := tl.find(); err != nil && tl.required {
			return err
		}
	}
	for _, name := range []string{"dpkg-deb", "depmod", "ldd"} {
		if _, err := lookTool(name); err != nil {
			return &MissingError{What: name, Hint: depsHint}
		}
	}
	return nil
}

// lookTool finds a program in PATH or the sbin directories, which a non-root
// PATH may lack.
func lookTool(name string) (string, error) {
	if filepath.IsAbs(name) {
		st, err := os.Stat(name)
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return "", fmt.Errorf("%s is not an executable", name)
		}
		return name, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		if p, err := lookTool(filepath.Join(d, name)); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

func (tl tool) find() (string, error) {
	for _, n := range tl.names {
		if p, err := lookTool(n); err == nil {
			return p, nil
		}
	}
	return "", &MissingError{What: filepath.Base(tl.guest), Hint: depsHint}
}

// PrepareBase returns the base for the newest kernel package in cacheDir,
// building and caching it on first use. The cache key covers the kernel
// package, the module lists, and the host tools' sizes and times, so an
// upgrade of any of them makes a new base.
func PrepareBase(ctx context.Context, cacheDir string, logf func(string, ...any)) (*Base, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	deb, err := FindKernelDeb(cacheDir)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	fmt.Fprintln(h, baseRecipe, filepath.Base(deb), RequiredModules, OptionalModules, skipApplets)
	if st, err := os.Stat(deb); err == nil {
		fmt.Fprintln(h, st.Size(), st.ModTime().UnixNano())
	}
	found := map[string]string{}
	for _, tl := range tools {
		p, err := tl.find()
		if err != nil {
			if tl.required {
				return nil, err
			}
			continue
		}
		found[tl.guest] = p
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("stat %s: %w", p, err)
		}
		fmt.Fprintln(h, tl.guest, p, st.Size(), st.ModTime().UnixNano())
	}
	key := hex.EncodeToString(h.Sum(nil))[:12]
	name := strings.TrimSuffix(filepath.Base(deb), ".deb")
	dir := filepath.Join(cacheDir, "base-"+name+"-"+key)
	if b, err := loadBase(dir, deb); err == nil {
		return b, nil
	}

	logf("e2e: preparing VM base from %s (cached in %s)", filepath.Base(deb), dir)
	tmp, err := os.MkdirTemp(cacheDir, ".base-")
	if err != nil {
		return nil, fmt.Errorf("prepare base: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := buildBase(ctx, tmp, deb, found); err != nil {
		return nil, fmt.Errorf("prepare base from %s: %w", deb, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another run may have won the race; use its base if it is whole.
		if b, lerr := loadBase(dir, deb); lerr == nil {
			return b, nil
		}
		return nil, fmt.Errorf("prepare base: %w", err)
	}
	return loadBase(dir, deb)
}

// loadBase reads a finished base directory.
func loadBase(dir, deb string) (*Base, error) {
	rel, err := os.ReadFile(filepath.Join(dir, "release"))
	if err != nil {
		return nil, fmt.Errorf("load base: %w", err)
	}
	mods, err := os.ReadFile(filepath.Join(dir, "modules"))
	if err != nil {
		return nil, fmt.Errorf("load base: %w", err)
	}
	b := &Base{
		Dir:     dir,
		Kernel:  filepath.Join(dir, "vmlinuz"),
		Archive: filepath.Join(dir, "base.cpio"),
		Release: strings.TrimSpace(string(rel)),
		Deb:     deb,
		Modules: strings.Fields(string(mods)),
	}
	for _, p := range []string{b.Kernel, b.Archive} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("load base: %w", err)
		}
	}
	return b, nil
}

func run(ctx context.Context, dir, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return out, nil
}

// buildBase unpacks the kernel package into tmp/deb, copies the wanted
// modules and the host tools into tmp/root, writes tmp/base.cpio, and
// removes the unpacked package. The files "release" and "modules" are
// written last; loadBase needs them.
func buildBase(ctx context.Context, tmp, deb string, found map[string]string) error {
	unpacked := filepath.Join(tmp, "deb")
	root := filepath.Join(tmp, "root")
	dpkgDeb, err := lookTool("dpkg-deb")
	if err != nil {
		return &MissingError{What: "dpkg-deb", Hint: depsHint}
	}
	depmod, err := lookTool("depmod")
	if err != nil {
		return &MissingError{What: "depmod", Hint: depsHint}
	}
	if _, err := run(ctx, "", dpkgDeb, "-x", deb, unpacked); err != nil {
		return err
	}
	rels, _ := filepath.Glob(filepath.Join(unpacked, "lib", "modules", "*"))
	if len(rels) != 1 {
		return fmt.Errorf("want one kernel release in %s, found %d", deb, len(rels))
	}
	release := filepath.Base(rels[0])
	vmlinuz := filepath.Join(unpacked, "boot", "vmlinuz-"+release)
	if err := copyFile(filepath.Join(tmp, "vmlinuz"), vmlinuz, 0o644); err != nil {
		return err
	}
	if _, err := run(ctx, "", depmod, "-b", unpacked, release); err != nil {
		return err
	}
	srcMods := filepath.Join(unpacked, "lib", "modules", release)
	dep, err := parseModulesDep(filepath.Join(srcMods, "modules.dep"))
	if err != nil {
		return err
	}
	var boot []string
	want := map[string]bool{}
	var visit func(rel string)
	visit = func(rel string) {
		if want[rel] {
			return
		}
		want[rel] = true
		for _, d := range dep.deps[rel] {
			visit(d)
		}
	}
	for _, m := range RequiredModules {
		rel, ok := dep.byName[modName(m)]
		if !ok {
			return fmt.Errorf("kernel %s has no module %s", release, m)
		}
		visit(rel)
		boot = append(boot, m)
	}
	for _, m := range OptionalModules {
		if rel, ok := dep.byName[modName(m)]; ok {
			visit(rel)
			boot = append(boot, m)
		}
	}
	dstMods := filepath.Join(root, "lib", "modules", release)
	for rel := range want {
		if err := copyModule(ctx, filepath.Join(dstMods, rel), filepath.Join(srcMods, rel)); err != nil {
			return err
		}
	}
	for _, f := range []string{"modules.order", "modules.builtin", "modules.builtin.modinfo"} {
		if _, err := os.Stat(filepath.Join(srcMods, f)); err == nil {
			if err := copyFile(filepath.Join(dstMods, f), filepath.Join(srcMods, f), 0o644); err != nil {
				return err
			}
		}
	}
	if _, err := run(ctx, "", depmod, "-b", root, release); err != nil {
		return err
	}
	if err := os.RemoveAll(unpacked); err != nil {
		return fmt.Errorf("remove unpacked kernel: %w", err)
	}

	if err := installTools(ctx, root, found); err != nil {
		return err
	}
	for _, d := range []string{"proc", "sys", "dev", "run", "tmp", "etc", "root", "var", "mnt"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return fmt.Errorf("mkdir: %w", err)
		}
	}
	if err := os.Symlink("/run", filepath.Join(root, "var", "run")); err != nil {
		return fmt.Errorf("symlink: %w", err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644); err != nil {
		return fmt.Errorf("write passwd: %w", err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "group"), []byte("root:x:0:\n"), 0o644); err != nil {
		return fmt.Errorf("write group: %w", err)
	}

	f, err := os.Create(filepath.Join(tmp, "base.cpio"))
	if err != nil {
		return fmt.Errorf("create base archive: %w", err)
	}
	cw := newCpioWriter(f)
	if err := cw.Tree("/", root); err != nil {
		f.Close()
		return err
	}
	if err := cw.Close(); err != nil {
		f.Close()
		return fmt.Errorf("write base archive: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write base archive: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "modules"), []byte(strings.Join(boot, "\n")+"\n"), 0o644); err != nil {
		return fmt.Errorf("write module list: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "release"), []byte(release+"\n"), 0o644); err != nil {
		return fmt.Errorf("write release: %w", err)
	}
	return nil
}

// installTools copies the host tools, their shared libraries and the
// dynamic loader into root, and links busybox's applets.
func installTools(ctx context.Context, root string, found map[string]string) error {
	guests := make([]string, 0, len(found))
	for g := range found {
		guests = append(guests, g)
	}
	sort.Strings(guests)
	libs := map[string]bool{}
	for _, g := range guests {
		src := found[g]
		if err := copyFile(filepath.Join(root, g), src, 0o755); err != nil {
			return err
		}
		ls, err := sharedLibs(ctx, src)
		if err != nil {
			return err
		}
		for _, l := range ls {
			libs[l] = true
		}
	}
	for l := range libs {
		if err := copyFile(filepath.Join(root, l), l, 0o755); err != nil {
			return err
		}
	}
	// iproute2's ip also answers to /bin/ip, so exec.Command("ip") finds it.
	if err := os.Symlink("/sbin/ip", filepath.Join(root, "bin", "ip")); err != nil {
		return fmt.Errorf("symlink ip: %w", err)
	}
	out, err := run(ctx, "", found["/bin/busybox"], "--list-full")
	if err != nil {
		return err
	}
	for _, a := range strings.Fields(string(out)) {
		if skipApplets[filepath.Base(a)] {
			continue
		}
		dst := filepath.Join(root, a)
		if _, err := os.Lstat(dst); err == nil {
			continue // a real tool is there
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("mkdir: %w", err)
		}
		if err := os.Symlink("/bin/busybox", dst); err != nil {
			return fmt.Errorf("symlink applet: %w", err)
		}
	}
	return nil
}

// sharedLibs lists the absolute paths of the libraries and loader that ldd
// reports for bin; a static binary has none.
func sharedLibs(ctx context.Context, bin string) ([]string, error) {
	out, err := exec.CommandContext(ctx, "ldd", bin).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "not a dynamic executable") || strings.Contains(string(out), "statically linked") {
			return nil, nil
		}
		return nil, fmt.Errorf("ldd %s: %w\n%s", bin, err, out)
	}
	var libs []string
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Fields(line)
		for i, f := range fields {
			if strings.HasPrefix(f, "/") && (i == 0 || fields[i-1] == "=>") {
				libs = append(libs, f)
			}
		}
	}
	return libs, nil
}

// modulesDep is a parsed modules.dep: module paths (relative to the
// release's module directory) and their dependencies.
type modulesDep struct {
	deps   map[string][]string
	byName map[string]string
}

// modName normalises a module name the way the kernel does ('-' and '_' are
// the same).
func modName(s string) string {
	return strings.ReplaceAll(s, "-", "_")
}

// moduleBase returns the module name of a path such as
// kernel/net/ipv4/ipip.ko.xz.
func moduleBase(rel string) string {
	b := filepath.Base(rel)
	if i := strings.Index(b, ".ko"); i >= 0 {
		b = b[:i]
	}
	return modName(b)
}

func parseModulesDep(path string) (*modulesDep, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read modules.dep: %w", err)
	}
	defer f.Close()
	d := &modulesDep{deps: map[string][]string{}, byName: map[string]string{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		mod, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		d.deps[mod] = strings.Fields(rest)
		d.byName[moduleBase(mod)] = mod
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read modules.dep: %w", err)
	}
	return d, nil
}

// copyModule copies a module, decompressing .ko.xz, .ko.zst and .ko.gz so
// busybox's modprobe can load it; depmod then indexes the .ko name.
func copyModule(ctx context.Context, dst, src string) error {
	var tool string
	switch {
	case strings.HasSuffix(src, ".ko"):
		return copyFile(dst, src, 0o644)
	case strings.HasSuffix(src, ".ko.xz"):
		tool = "xz"
	case strings.HasSuffix(src, ".ko.zst"):
		tool = "zstd"
	case strings.HasSuffix(src, ".ko.gz"):
		tool = "gzip"
	default:
		return fmt.Errorf("unknown module file %s", src)
	}
	dst = dst[:strings.LastIndex(dst, ".ko")+3]
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("decompress module: %w", err)
	}
	cmd := exec.CommandContext(ctx, tool, "-dc", src)
	cmd.Stdout = out
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Run()
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("decompress %s with %s: %w: %s", src, tool, err, stderr.String())
	}
	return nil
}

// copyFile copies src (following symlinks) to dst, creating parents.
func copyFile(dst, src string, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return nil
}
