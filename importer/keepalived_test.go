package importer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/ipvs"
)

// TestKeepalivedRecorded checks the table the import works out against
// what keepalived 2.2.7 programmed for the same files in the e2e VM
// (testdata/keepalived/recorded/NAME.save is `ipvsadm -S -n` after
// keepalived -C started on NAME.conf; e2e/importer repeats this live).
func TestKeepalivedRecorded(t *testing.T) {
	confs, _ := filepath.Glob("testdata/keepalived/recorded/*.conf")
	if len(confs) == 0 {
		t.Fatal("no recorded configurations")
	}
	for _, conf := range confs {
		name := strings.TrimSuffix(filepath.Base(conf), ".conf")
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(strings.TrimSuffix(conf, ".conf") + ".save")
			if err != nil {
				t.Fatal(err)
			}
			res, err := FromKeepalived(conf, KeepalivedOptions{Options: Options{Director: "lb1"}})
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			if diff := cmp.Diff(string(want), ipvs.SaveString(res.Table)); diff != "" {
				t.Errorf("table (-keepalived +import):\n%s", diff)
			}
			if err := Check(res); err != nil {
				t.Errorf("%v\n%s", err, res.CUE)
			}
			t.Logf("\n%s", res.CUE)
		})
	}
}
