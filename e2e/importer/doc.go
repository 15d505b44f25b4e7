// Package importer holds the e2e guest tests of lvsgen import: keepalived
// runs in the VM on the keepalived.conf files of testdata/, and what it
// programs must be what lvsgen imports, renders and plans from the same
// files.
package importer
