package compiler

import (
	"crypto/sha256"
	"encoding/binary"

	"cuelang.org/go/cue/ast"

	"github.com/lvsgen/lvsgen/compiler/internal/plaindata"
	"github.com/lvsgen/lvsgen/hoststate"
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
	// File returns what an earlier compile found in a config file whose
	// bytes have the SHA-256 sum, when the file declared services alone
	// as plain data (Result.FileServices); nil otherwise. Such a file
	// is not read again: its services are taken from the memo by their
	// keys. It is called from several goroutines at once.
	File(sum [sha256.Size]byte) *FileServices
	// Host reports whether an earlier compile built the host whose key
	// is k without a conflict (Result.HostKeys).
	Host(k HostKey) bool
	// World returns the world an earlier valid compile without policies
	// made of the files whose key is k (Result.World), or nil. Each
	// call returns a World of the caller's own.
	World(k WorldKey) *World
}

// A World is what a config's services are compiled against, as a valid
// compile made it: the hosts and clusters, the policy settings, and the
// names declared (the model's top level as decoded: Policies is nil
// or empty as the config wrote it, and names no policy).
type World struct {
	Hosts          map[string]*model.Host
	Clusters       map[string]*model.Cluster
	Policies       []string
	PolicySettings map[string]any
	Declared       map[string]map[string]bool
}

// A WorldKey identifies what a World is made of: every config file's name,
// in order, and either the SHA-256 of its bytes or, for a file that
// declares services alone as plain data, its package (nothing else of it
// reaches the world).
type WorldKey [sha256.Size]byte

// worldKeyOf is the key of the world srcs make; not ok when a source is
// not plain data.
func worldKeyOf(srcs []source) (WorldKey, bool) {
	h := sha256.New()
	h.Write([]byte("lvsgen world 1\n"))
	put := func(s string) {
		h.Write(binary.AppendUvarint(nil, uint64(len(s))))
		h.Write([]byte(s))
	}
	for _, s := range srcs {
		put(s.name)
		switch {
		case s.memo != nil:
			put("services of package " + s.memo.Package)
		case s.tree == nil || s.rest == nil:
			return WorldKey{}, false
		case restIsPackage(s.rest):
			put("services of package " + s.rest.PackageName())
		default:
			put("bytes")
			h.Write(s.sum[:])
		}
	}
	var k WorldKey
	h.Sum(k[:0])
	return k, true
}

// restIsPackage reports whether a file's rest (the file without its
// services) holds nothing but its package clause and comments.
func restIsPackage(f *ast.File) bool {
	for _, d := range f.Decls {
		switch d.(type) {
		case *ast.Package, *ast.CommentGroup:
		default:
			return false
		}
	}
	return true
}

// worldOf is the World of a compiled model and the names declared.
func worldOf(cfg *model.Config, declared map[string]map[string]bool) *World {
	return &World{Hosts: cfg.Hosts, Clusters: cfg.Clusters, Policies: cfg.Policies, PolicySettings: cfg.PolicySettings, Declared: declared}
}

// worldFromMemo is compileWorld for the world the memo gave: the model
// without services it describes, and the names declared.
func (c *compilation) worldFromMemo() *model.Config {
	w := c.world
	// The config's CUE value is not built: an empty one stands in, so
	// that what looks a position up in it (for a diagnostic, which the
	// compile makes again without the memo) finds nothing rather than
	// failing.
	c.user = c.ctx.CompileString("{}")
	cfg := &model.Config{Hosts: w.Hosts, Clusters: w.Clusters, Policies: w.Policies, PolicySettings: w.PolicySettings}
	c.addrs = newAddressIndex(cfg)
	c.declared = w.Declared
	return cfg
}

// World is the world of a valid compile with a memo and without
// policies, and its key: what a ServiceMemo's World is filled with. A
// nil World when there is none.
func (r *Result) World() (WorldKey, *World) { return r.worldKey, r.world }

// A HostKey identifies what a host's state is built from: its world, its
// name, and each service it carries (by ServiceKey) with what it is to
// the service (director, real server number N, sorry server). A host's
// state is the same whenever its key is.
type HostKey [sha256.Size]byte

// hostKeyOf is the key of the host called name, which carries parts of
// cfg's services; not ok when a service has no key.
func hostKeyOf(world [sha256.Size]byte, name string, cfg *model.Config, parts []hoststate.Part, keys map[string]ServiceKey) (HostKey, bool) {
	h := sha256.New()
	h.Write([]byte("lvsgen host 1\n"))
	h.Write(world[:])
	h.Write(binary.AppendUvarint(nil, uint64(len(name))))
	h.Write([]byte(name))
	var b []byte
	for _, p := range parts {
		k, ok := keys[cfg.Services[p.Service].Name]
		if !ok {
			return HostKey{}, false
		}
		b = append(b[:0], k[:]...)
		b = binary.AppendVarint(b, int64(p.Real))
		h.Write(b)
	}
	var k HostKey
	h.Sum(k[:0])
	return k, true
}

// hostOpts is what hostStates needs of a compile with a memo: the memo,
// the world's and the services' keys, and the host wanted (Options.Host).
type hostOpts struct {
	memo  ServiceMemo
	world [sha256.Size]byte
	keys  map[string]ServiceKey
	want  string
	// fromMemo are the services the memo gave.
	fromMemo map[*model.Service]bool
}

// hostOpts are the compile's; none without a memo, or on the path that
// evaluates the config as a whole (no service keys).
func (c *compilation) hostOpts() hostOpts {
	if c.opts.Memo == nil || c.serviceKeys == nil {
		return hostOpts{}
	}
	return hostOpts{memo: c.opts.Memo, world: c.worldSum, keys: c.serviceKeys, want: c.opts.Host, fromMemo: c.fromMemo}
}

// HostKeys are the keys of the managed hosts of a valid compile with a
// memo, each built (or known to build) without a conflict: what a
// ServiceMemo's Host is filled with.
func (r *Result) HostKeys() []HostKey { return r.hostKeys }

// FileServices is what a config file that declares services alone, as
// plain data, holds: its package and, for each service, its name and the
// digest of its text as plain data (the SHA-256 of
// plaindata.Node.WriteKey), from which its key in any world is made.
type FileServices struct {
	Package string
	Names   []string
	Digests [][sha256.Size]byte
}

// A ServiceKey identifies a service by its world, its name and its text
// as plain data (plaindata.Node.WriteKey): the SHA-256 of those.
type ServiceKey [sha256.Size]byte

// serviceKeyOf is the key of the service called name, whose text as
// plain data has the digest (digestOf), in the world whose key is world.
func serviceKeyOf(world [sha256.Size]byte, name string, digest [sha256.Size]byte) ServiceKey {
	h := sha256.New()
	h.Write([]byte("lvsgen service 2\n"))
	h.Write(world[:])
	h.Write(binary.AppendUvarint(nil, uint64(len(name))))
	h.Write([]byte(name))
	h.Write(digest[:])
	var k ServiceKey
	h.Sum(k[:0])
	return k
}

// digestOf is the SHA-256 of n's WriteKey: its content, not where it is
// written.
func digestOf(n *plaindata.Node) [sha256.Size]byte {
	h := sha256.New()
	n.WriteKey(h)
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

// ServiceKeys are the keys of the services of a valid compile that read
// them as plain data, by name: what a ServiceMemo is filled with after
// it (each key's model is the service of that name in Config). Nil when
// there are none.
func (r *Result) ServiceKeys() map[string]ServiceKey { return r.serviceKeys }

// FileServices are, by the SHA-256 of their bytes, the files of a valid
// compile with a memo that declare services alone as plain data, each
// service in that file only: what a ServiceMemo's File gives a later
// compile. Nil when there are none.
func (r *Result) FileServices() map[[sha256.Size]byte]*FileServices { return r.fileServices }

// fileServices are the FileServices of a valid compile's sources: the
// files the memo gave, as it gave them, and each file read as plain data
// that declares services alone (its rest is its package clause) none of
// which another file also declares (its tree's service is the merged
// one, not a copy unified with another's).
func (c *compilation) fileServices(srcs []source) map[[sha256.Size]byte]*FileServices {
	out := map[[sha256.Size]byte]*FileServices{}
	for _, s := range srcs {
		if s.memo != nil {
			out[s.sum] = s.memo
			continue
		}
		if fs := c.servicesOnly(s); fs != nil {
			out[s.sum] = fs
		}
	}
	return out
}

// servicesOnly is what a source that declares services alone holds, or
// nil for any other.
func (c *compilation) servicesOnly(s source) *FileServices {
	if s.tree == nil || s.rest == nil || s.file != nil {
		return nil
	}
	if !restIsPackage(s.rest) {
		return nil
	}
	top := s.tree.Fields()
	if len(top) != 1 || top[0].Name != "services" || top[0].Val.Kind() != plaindata.Struct {
		return nil
	}
	merged := c.tree.Get("services")
	if merged == nil {
		return nil
	}
	fs := &FileServices{Package: s.rest.PackageName()}
	for _, f := range top[0].Val.Fields() {
		m := merged.Val.Get(f.Name)
		d, ok := c.digests[f.Val]
		_, keyed := c.serviceKeys[f.Name]
		if m == nil || m.Val != f.Val || !ok || !keyed {
			// Unified with another file's, or not valid alone.
			return nil
		}
		fs.Names = append(fs.Names, f.Name)
		fs.Digests = append(fs.Digests, d)
	}
	return fs
}
