package applier

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/hoststate"
)

// TestPersistNFT: the nft script of a FULLNAT director declares, deletes
// and defines each table, so that `nft -f` replaces it whole whatever the
// kernel holds; a host that never had fullnat services gets no file, and
// one whose last fullnat service left gets a script that loads nothing.
// Where nft is installed, its check mode (-c: parsed and checked against
// the kernel, nothing committed) must accept the script.
func TestPersistNFT(t *testing.T) {
	res, err := compiler.Compile("../examples")
	if err != nil {
		t.Fatal(err)
	}
	full := res.Hosts["full1"]
	if full == nil || len(full.NFTables) == 0 {
		t.Fatal("examples: full1 has no nftables table")
	}
	path := filepath.Join(t.TempDir(), "lvsgen", "nftables.nft")

	must(t, Persist(&hoststate.Host{Name: "nat1"}, "", "", path))
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a host without fullnat services got %s (%v)", path, err)
	}

	must(t, Persist(full, "", "", path))
	b, err := os.ReadFile(path)
	must(t, err)
	script := string(b)
	for _, tbl := range full.NFTables {
		head := "table " + string(tbl.Family) + " " + tbl.Name + "\ndelete table " + string(tbl.Family) + " " + tbl.Name + "\n" + tbl.Text()
		if !strings.Contains(script, head) {
			t.Errorf("script lacks the replacement of %s %s:\n%s", tbl.Family, tbl.Name, script)
		}
	}
	if nft, err := exec.LookPath("nft"); err == nil && os.Geteuid() == 0 {
		if out, err := exec.Command(nft, "-c", "-f", path).CombinedOutput(); err != nil {
			t.Errorf("nft -c -f refuses the script: %v\n%s\n%s", err, out, script)
		}
	} else {
		t.Log("nft (as root) not available: the script is not checked by nft here; e2e/apply's TestApplyFullNAT loads it in the VM")
	}

	must(t, Persist(&hoststate.Host{Name: "full1"}, "", "", path))
	b, err = os.ReadFile(path)
	must(t, err)
	if strings.Contains(string(b), "table ") {
		t.Errorf("with no fullnat services left the script still loads a table:\n%s", b)
	}
}
