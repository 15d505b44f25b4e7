package importer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpusErrors are the exact errors of the corpus inputs that import
// nothing; every other input must import and validate. The corpus is
// configurations and captures written by others (testdata/corpus/SOURCES.md).
var corpusErrors = map[string]string{
	"keepalived/keepalived.conf.conditional_conf": `nothing imported: testdata/corpus/keepalived/keepalived.conf.conditional_conf has no virtual_server; conditional lines (@id) were read for configuration id "lb1"; --config-id picks another`,
	"keepalived/kubeadm-ha.keepalived.conf.tpl":   `nothing imported: testdata/corpus/keepalived/kubeadm-ha.keepalived.conf.tpl has no virtual_server`,
	"ipvsadm/mixed-methods.save":                  `nothing imported: lvsgen can express none of the 1 IPVS services (listed above as not imported)`,
}

// TestCorpus imports every configuration and capture of testdata/corpus
// as `lvsgen import` does: each imports at least one service and its
// configuration validates and reproduces the imported table (Check), or
// fails with its exact expected error.
func TestCorpus(t *testing.T) {
	kas, _ := filepath.Glob("testdata/corpus/keepalived/*")
	saves, _ := filepath.Glob("testdata/corpus/ipvsadm/*.save")
	if len(kas) < 20 || len(saves) < 5 {
		t.Fatalf("the corpus has %d keepalived configurations and %d captures, want at least 20 and 5", len(kas), len(saves))
	}
	for _, f := range append(kas, saves...) {
		name := strings.TrimPrefix(filepath.ToSlash(f), "testdata/corpus/")
		t.Run(name, func(t *testing.T) {
			var res *Result
			var err error
			if strings.HasSuffix(f, ".save") {
				in, rerr := os.Open(f)
				if rerr != nil {
					t.Fatal(rerr)
				}
				defer in.Close()
				res, err = FromSave(in, Options{Director: "lb1", Source: f})
			} else {
				res, err = FromKeepalived(f, KeepalivedOptions{Options: Options{Director: "lb1"}})
			}
			if err == nil {
				err = res.Empty()
			}
			if want, ok := corpusErrors[name]; ok {
				if err == nil || err.Error() != want {
					t.Fatalf("error = %v\nwant %s", err, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			if err := Check(res); err != nil {
				t.Fatalf("%v\n%s", err, res.CUE)
			}
		})
	}
}
