package compiler

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/lvsgen/lvsgen/compiler/internal/plaindata"
	"github.com/lvsgen/lvsgen/model"
)

// A ServiceMemo gives the models of services an earlier compile found
// valid, by ServiceKey: what lets a one-shot compile after an edit (an
// apply in a new process) compile only the services that changed, as a
// Compiler does between compiles in one process. The compile cache
// (internal/compilecache) keeps one per config directory.
//
// A service's model depends on its own text and on its world — the
// config's hosts and clusters and the names it declares — and on the
// build of lvsgen (the schema); ServiceKey covers the first two, and a
// memo must hold the results of one build only. The service's position
// in its files is not in the key: the model holds none, and a memo's
// result is used only when the whole compile finds nothing to report
// (otherwise every service is compiled again, so that diagnostics are
// exactly a fresh compile's).
type ServiceMemo interface {
	// Service returns the model of the service whose key is k, or nil
	// when it holds none. It is called from several goroutines at once,
	// and each call returns a model of the caller's own (it is not
	// shared with another compile's result).
	Service(k ServiceKey) *model.Service
}

// A ServiceKey identifies a service by its world, its name and its text
// as plain data (plaindata.Node.WriteKey): the SHA-256 of those.
type ServiceKey [sha256.Size]byte

// serviceKeyOf is the key of the service called name, written as n, in
// the world whose key is world.
func serviceKeyOf(world [sha256.Size]byte, name string, n *plaindata.Node) ServiceKey {
	h := sha256.New()
	h.Write([]byte("lvsgen service 1\n"))
	h.Write(world[:])
	h.Write(binary.AppendUvarint(nil, uint64(len(name))))
	h.Write([]byte(name))
	n.WriteKey(h)
	var k ServiceKey
	h.Sum(k[:0])
	return k
}

// ServiceKeys are the keys of the services of a valid compile that read
// them as plain data, by name: what a ServiceMemo is filled with after
// it (each key's model is the service of that name in Config). Nil when
// there are none.
func (r *Result) ServiceKeys() map[string]ServiceKey { return r.serviceKeys }
