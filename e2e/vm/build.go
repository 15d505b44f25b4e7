package vm

import (
	"bufio"
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// GuestTag is the build tag of guest test files. Files carrying it compile
// only into the guest test binaries, never into the host's go test.
const GuestTag = "e2eguest"

// Package is a Go package of the checkout.
type Package struct {
	// ImportPath is the package's import path.
	ImportPath string
	// Dir is its directory, relative to the module root (slash-separated).
	Dir string
	// HostTests are the tests, examples and fuzz tests of the package's
	// files without the guest tag. The guest skips them (-test.skip): they
	// already ran on the host, and the VM's time is for the kernel.
	HostTests []string
}

// binName is the file name of a package's guest test binary.
func (p Package) binName() string {
	return strings.ReplaceAll(p.Dir, "/", "_") + ".test"
}

// ModuleRoot returns the directory of the main module's go.mod, as seen
// from dir.
func ModuleRoot(ctx context.Context, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", "GOMOD")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("no go.mod above %s", dir)
	}
	return filepath.Dir(mod), nil
}

// GuestPackages lists the packages under root that have test files with the
// e2eguest build tag, in import path order.
func GuestPackages(ctx context.Context, root string) ([]Package, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-e", "-tags", GuestTag,
		"-f", "{{.ImportPath}}\t{{.Dir}}\t{{join .TestGoFiles \" \"}} {{join .XTestGoFiles \" \"}}", "./...")
	cmd.Dir = root
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w: %s", err, stderr.String())
	}
	var pkgs []Package
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.SplitN(line, "\t", 3)
		if len(parts) != 3 {
			continue
		}
		guest := false
		var host []string
		for _, f := range strings.Fields(parts[2]) {
			path := filepath.Join(parts[1], f)
			if hasGuestTag(path) {
				guest = true
				continue
			}
			names, err := testFuncs(path)
			if err != nil {
				return nil, err
			}
			host = append(host, names...)
		}
		if !guest {
			continue
		}
		rel, err := filepath.Rel(root, parts[1])
		if err != nil {
			return nil, fmt.Errorf("guest package %s: %w", parts[0], err)
		}
		sort.Strings(host)
		pkgs = append(pkgs, Package{ImportPath: parts[0], Dir: filepath.ToSlash(rel), HostTests: host})
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].ImportPath < pkgs[j].ImportPath })
	return pkgs, nil
}

// testFuncs lists the top-level Test, Example and Fuzz functions of a test
// file.
func testFuncs(path string) ([]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	var names []string
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Recv != nil {
			continue
		}
		n := fd.Name.Name
		for _, prefix := range []string{"Test", "Example", "Fuzz"} {
			if strings.HasPrefix(n, prefix) && n != "TestMain" {
				names = append(names, n)
				break
			}
		}
	}
	return names, nil
}

// skipRegexp is the -test.skip pattern for the package's host tests, or ""
// when it has none.
func (p Package) skipRegexp() string {
	if len(p.HostTests) == 0 {
		return ""
	}
	return "^(" + strings.Join(p.HostTests, "|") + ")$"
}

// hasGuestTag reports whether the file's //go:build line names the guest
// tag.
func hasGuestTag(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "//go:build ") {
			for _, w := range strings.FieldsFunc(line[len("//go:build "):], func(r rune) bool {
				return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
			}) {
				if w == GuestTag {
					return true
				}
			}
			return false
		}
		if strings.HasPrefix(line, "package ") {
			return false
		}
	}
	return false
}

// goEnv is the environment for building guest binaries: static, linux/amd64.
func goEnv() []string {
	return append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
}

// BuildGuestTest compiles the guest tests of pkg into a static test binary
// at out.
func BuildGuestTest(ctx context.Context, root string, pkg Package, out string) error {
	return goBuild(ctx, root, "test", "-c", "-tags", GuestTag, "-ldflags=-s -w", "-o", out, "./"+pkg.Dir)
}

// BuildCommand compiles the main package in the module-relative directory
// dir into a static binary at out.
func BuildCommand(ctx context.Context, root, dir, out string) error {
	return goBuild(ctx, root, "build", "-ldflags=-s -w", "-o", out, "./"+dir)
}

func goBuild(ctx context.Context, root string, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = goEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// hasGoFiles reports whether dir holds non-test Go files.
func hasGoFiles(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		n := e.Name()
		if !e.IsDir() && strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
			return true
		}
	}
	return false
}
