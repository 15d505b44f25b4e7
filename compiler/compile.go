package compiler

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/token"

	"github.com/lvsgen/lvsgen/compiler/internal/plaindata"
	"github.com/lvsgen/lvsgen/diag"
	"github.com/lvsgen/lvsgen/hoststate"
	"github.com/lvsgen/lvsgen/internal/safefile"
	"github.com/lvsgen/lvsgen/model"
)

// Result is what Compile found: the configuration when it is valid, and
// every diagnostic (errors and warnings) either way.
type Result struct {
	// Config is nil when Diagnostics holds an error.
	Config *model.Config
	// Hosts is the desired state of every managed host, by name; nil
	// when Diagnostics holds an error.
	Hosts       map[string]*hoststate.Host
	Diagnostics diag.List
	// Files are the .cue files that were read as configuration.
	Files []string
	// Rules are the policy rules in force, when the config got as far as
	// policies.
	Rules []Rule
	// PolicyDirs are the directories on disk whose .cue files were read
	// as policies (--policy and the config's own), sorted: inputs of the
	// result beside Files, which the compile cache checks again.
	PolicyDirs []string

	// viaTree: the services were read as plain data; compiled: how many
	// services were compiled rather than reused (for tests).
	viaTree  bool
	compiled int
	// memoHits counts the services taken from Options.Memo, memoUsed
	// says whether anything was (a service, a file, the world, a host
	// known); serviceKeys are the keys of the valid ones (ServiceKeys).
	memoHits    int
	memoUsed    bool
	serviceKeys map[string]ServiceKey
	// memoGave are the files the memo gave (not read).
	memoGave map[string]bool
	// fileServices: FileServices; memoMiss: the compile stopped, as a
	// file the memo gave cannot be used (compileServices).
	fileServices map[[sha256.Size]byte]*FileServices
	memoMiss     bool
	// hostKeys are the keys of the hosts (HostKeys); world and worldKey
	// the world and its key (World).
	hostKeys []HostKey
	world    *World
	worldKey WorldKey
}

// within reports whether path lies in dir.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// Valid reports whether the configuration has no errors.
func (r *Result) Valid() bool { return r.Config != nil && !r.Diagnostics.HasErrors() }

// Options tune a compilation.
type Options struct {
	// PolicyDirs are directories of policy files checked in addition to
	// the packs the config enables (--policy DIR).
	PolicyDirs []string
	// CheckPermissions refuses a config that someone other than root
	// and the effective user can change (safefile.CheckPermissions):
	// apply and watch, which write the kernel as root, set it.
	CheckPermissions bool
	// ReadFile, when set, reads the files the compile reads from disk —
	// those ConfigFiles lists and the .cue files of policy directories —
	// in place of its own bounded reads (ReadConfigFiles,
	// safefile.ReadFile), and must be as careful. The compile cache
	// (internal/compilecache) hands over the bytes it hashed, so that the
	// result it stores is the result of exactly those bytes even when a
	// file changes during the compile. It is called from several
	// goroutines at once.
	ReadFile func(name string) ([]byte, error)
	// Sums, with ReadFile, are the SHA-256 sums of the bytes ReadFile
	// returns for the config files it names, which a compile with a
	// Memo would otherwise hash again (the compile cache has hashed
	// them for its key).
	Sums map[string][sha256.Size]byte
	// Memo, when set, holds services compiled before (ServiceMemo): a
	// service whose key it holds is taken from it rather than compiled.
	Memo ServiceMemo
	// Host, with a Memo, is the one host whose state is wanted (plan
	// and apply): another host the memo knows to build without a
	// conflict from the same services in the same world is not built,
	// and is missing from Result.Hosts.
	Host string

	// noFileMemo reads every file, even those Memo knows.
	noFileMemo bool

	// wholeCUE evaluates the config as one CUE instance even when it is
	// plain data: the reference the tree path is tested against.
	wholeCUE bool
}

// Compile loads every .cue file under dir, validates the whole
// configuration against the schema and the LVS rules, and returns the typed
// model. Problems in the configuration are diagnostics in the Result; the
// error is for problems reading dir itself.
func Compile(dir string) (*Result, error) { return CompileWith(dir, Options{}) }

// CompileWith is Compile with options. Policies are checked once the
// config is otherwise valid: they constrain the compiled model.
func CompileWith(dir string, opts Options) (*Result, error) {
	return NewCompiler(opts).Compile(dir)
}

// A Compiler compiles a config directory again and again, as watch does,
// and keeps what does not change between compiles: each file's parse (by
// its content), each service's result (by its file's content, while the
// hosts and clusters it is checked against stay the same), the schema's
// verdicts, and the host states built from unchanged services (memo.go
// says what is kept, by what key, and what bounds it). An edit to one
// service in a large config costs about that service's file. Its results
// are those of a fresh compile of the same files. Compile calls are
// serialized; a Compiler is safe for use by several goroutines.
type Compiler struct {
	opts Options

	mu sync.Mutex
	// memo is what is kept between compiles (memo.go); its fields are
	// promoted (cc.hosts is cc.memo.hosts).
	memo
}

// NewCompiler returns a Compiler with opts.
func NewCompiler(opts Options) *Compiler {
	c := &Compiler{opts: opts}
	c.memo.forgetVerdicts()
	return c
}

// Compile compiles dir, reusing what it can from the previous compiles.
func (cc *Compiler) Compile(dir string) (*Result, error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	res, err := cc.compile(dir, cc.opts)
	if err == nil && res.memoMiss {
		// A file the memo gave is written beside another that
		// declares the same service, or its services are not in the
		// memo: every file is read.
		opts := cc.opts
		opts.noFileMemo = true
		res, err = cc.compile(dir, opts)
	}
	if err == nil && res.memoUsed && len(res.Diagnostics) > 0 && !res.warnedInPlace() {
		// An error, or a warning without its place, and something was
		// taken from the memo: everything is compiled, so that what is
		// reported is exactly what a compile without the memo reports
		// — with every position, which files and a world from the
		// memo lack, and without resting on the memo's services being
		// what their text compiles to.
		opts := cc.opts
		opts.Memo = nil
		cc.memo.services, cc.memo.hosts = nil, nil
		res, err = cc.compile(dir, opts)
	}
	return res, err
}

// warnedInPlace reports whether a result that took something from the
// memo and has something to report is what a compile without the memo
// reports: it has warnings only (a valid config, which trusts the memo
// as one with nothing to report does), and each of them, and each place
// it relates to, has a position in a file this compile read. A service
// the memo gave reported nothing in its world (services with anything
// to report are not kept), and the checks across services run over the
// same models either way; only the positions of what came from the
// memo, which it lacks, could differ, and a warning that needs one is
// made again by a compile without the memo. So a config that always
// warns (a waiver of a rule no longer in force, say) keeps the memo's
// speed after an edit.
func (r *Result) warnedInPlace() bool {
	if r.Diagnostics.HasErrors() {
		return false
	}
	read := func(file string, line int) bool {
		return file != "" && line > 0 && !r.memoGave[file] && slices.Contains(r.Files, file)
	}
	for _, d := range r.Diagnostics {
		if !read(d.Pos.File, d.Pos.Line) {
			return false
		}
		for _, rel := range d.Related {
			if !read(rel.File, rel.Line) {
				return false
			}
		}
	}
	return true
}

func (cc *Compiler) compile(dir string, opts Options) (*Result, error) {
	cc.memo.bound()
	files, err := ConfigFiles(dir)
	if err != nil {
		return nil, err
	}
	if opts.CheckPermissions {
		if err := safefile.CheckPermissions(dir, files); err != nil {
			return nil, err
		}
	}
	res := &Result{Files: files}
	if len(files) == 0 {
		res.Diagnostics = diag.List{{Rule: "syntax", Pos: diag.Pos{File: dir}, Message: "no .cue files found", Hint: "point lvsgen at the directory that holds your .cue files"}}
		return res, nil
	}
	read, sums := opts.ReadFile, opts.Sums
	if read == nil {
		sums = nil // they are of ReadFile's bytes, not these
		r, done, err := ReadConfigFiles(dir)
		if err != nil {
			return nil, err
		}
		defer done()
		read = r
	}
	srcs, diags := parseFiles(files, read, sums, &cc.files, opts.Memo, !opts.noFileMemo)
	if len(diags) > 0 {
		res.Diagnostics = diags
		res.Diagnostics.Sort()
		return res, nil
	}
	// Policy directories inside the config directory hold policies, not
	// configuration.
	refs := policyRefs(srcs)
	srcs = slices.DeleteFunc(srcs, func(s source) bool {
		for _, r := range refs {
			if isPolicyDir(r) && within(filepath.Join(dir, r), s.name) {
				return true
			}
		}
		return false
	})
	res.Files = res.Files[:0]
	for _, s := range srcs {
		res.Files = append(res.Files, s.name)
	}
	c := &compilation{
		cc:             cc,
		opts:           opts,
		clusterFacts:   &factsMemo{ids: cc.clusterIDs},
		realFactsCache: &factsMemo{ids: cc.realIDs},
		classes:        &classMemo{},
	}
	// The config's own instance gets a fresh context each compile (a
	// context keeps what was built in it), but for the first, whose
	// context then compiles services too.
	if c.ev, err = newEvaluator(cc.verdicts, cc.values); err != nil {
		return nil, err
	}
	if len(cc.pool) == 0 {
		cc.pool = append(cc.pool, c.ev)
	}
	c.ctx, c.schema = c.ev.ctx, c.ev.schema
	fwd, _ := c.ev.serviceDef.LookupPath(cue.ParsePath("forwarding")).Default()
	c.defaultForwarding, _ = fwd.String()
	// Plain data is read as a tree and its services checked value by
	// value (plaindata, plain.go); the rest of the config (hosts, clusters,
	// policies) is small and evaluated by CUE as before.
	var inst []source
	if !opts.wholeCUE {
		// A file the memo gave has no tree: its services are
		// compiled from the memo (compileServices).
		trees := make([]*plaindata.Node, 0, len(srcs))
		for _, s := range srcs {
			if s.memo != nil {
				c.memoFiles = append(c.memoFiles, s.memo)
				if res.memoGave == nil {
					res.memoGave = map[string]bool{}
				}
				res.memoGave[s.name] = true
			} else {
				trees = append(trees, s.tree)
			}
		}
		t, ok := plaindata.Merge(trees)
		if ok && c.plainServices(t) {
			c.tree = t
			res.viaTree = true
			inst = make([]source, len(srcs))
			for i, s := range srcs {
				inst[i] = source{name: s.name, file: s.rest}
			}
		}
	}
	// With a memo that holds the world the same files made (and no
	// policies, which are checked against the CUE value), the hosts and
	// clusters are not evaluated again.
	if c.tree != nil && opts.Memo != nil && len(refs) == 0 && len(opts.PolicyDirs) == 0 {
		if wk, ok := worldKeyOf(srcs); ok {
			c.worldKey = &wk
			c.world = opts.Memo.World(wk)
		}
	}
	if inst == nil {
		// The whole config, evaluated by CUE: the files as parsed.
		inst = make([]source, len(srcs))
		for i, s := range srcs {
			f, err := s.full()
			if err != nil {
				return nil, err
			}
			inst[i] = source{name: s.name, file: f}
		}
	}
	if c.world == nil {
		user, diags := buildInstance(c.ctx, dir, inst)
		if len(diags) > 0 {
			res.Diagnostics = diags
			res.Diagnostics.Sort()
			return res, nil
		}
		if err := user.Err(); err != nil {
			c.addCUEErrors(err, user, cue.Path{}, nil)
			res.Diagnostics = c.diags
			res.Diagnostics.Sort()
			return res, nil
		}
		c.user = user
	}
	cfg := c.compile()
	res.compiled, res.memoHits = c.compiled, c.memoHits
	if c.memoMiss {
		res.memoMiss = true
		return res, nil
	}

	var hosts map[string]*hoststate.Host
	var hostKeys []HostKey
	var skipped int // hosts the memo knows, not built
	if !c.diags.HasErrors() {
		packs := c.loadPacks(dir, refs, opts.PolicyDirs)
		res.Rules = c.checkPolicies(cfg, packs)
		res.PolicyDirs = slices.Sorted(slices.Values(c.policyDirs))
	}
	if !c.diags.HasErrors() {
		var conflicts []hoststate.Conflict
		hosts, conflicts, hostKeys, skipped = cc.hostStates(cfg, c.hostOpts())
		// Every rule of the schema exists so that what validates loads;
		// ipvs.Validate states what the kernel and ipvsadm -R accept. A
		// service that passes one and fails the other is a bug here.
		// (Each service is validated once, in its director view.)
		for _, name := range sortedKeys(hosts) {
			for _, s := range hosts[name].Services {
				if err := cc.invalid[s.Name]; err != nil {
					c.errorf("internal", cue.MakePath(cue.Str("services"), cue.Str(s.Name)), "",
						"this is a bug in lvsgen's schema; please report it with the config",
						"the kernel or ipvsadm would refuse service %s on %s: %v", s.Name, name, err)
				}
			}
		}
		for _, cf := range conflicts {
			// Reported where the second, contradicting need comes from,
			// with the first as related positions.
			kind, name, _ := strings.Cut(cf.Reason, " ")
			timeouts := kind == "cluster" && strings.Contains(cf.Message, "IPVS timeouts")
			rel := ""
			if timeouts && c.user.LookupPath(cue.MakePath(cue.Str("clusters"), cue.Str(name), cue.Str("timeouts"))).Exists() {
				rel = "timeouts"
			}
			var related []diag.Related
			for _, w := range cf.With {
				k, n, _ := strings.Cut(w, " ")
				at := cue.MakePath(cue.Str(k+"s"), cue.Str(n))
				// Two clusters' timeouts: at the timeouts if written.
				if t := cue.MakePath(cue.Str(k+"s"), cue.Str(n), cue.Str("timeouts")); timeouts && k == "cluster" && c.user.LookupPath(t).Exists() {
					at = t
				}
				related = append(related, c.relatedAt(at, "the other need: %s", w))
			}
			c.addIssue(diag.Error, "host-conflict", cue.MakePath(cue.Str(kind+"s"), cue.Str(name)), rel, cf.Message,
				"a host can hold one value per setting: split the services across hosts or make them agree", related...)
		}
	}
	res.Diagnostics = c.diags
	res.Diagnostics.Sort()
	res.memoUsed = c.memoHits > 0 || len(c.memoFiles) > 0 || c.world != nil || skipped > 0
	if !res.Diagnostics.HasErrors() {
		res.Config = cfg
		res.Hosts = hosts
		res.serviceKeys, res.hostKeys = c.serviceKeys, hostKeys
		if c.serviceKeys != nil {
			res.fileServices = c.fileServices(srcs)
		}
		// Only a world that reported nothing: its checks are not made
		// again when the memo gives it.
		if c.worldKey != nil && len(res.Rules) == 0 && len(res.Diagnostics) == 0 {
			res.worldKey, res.world = *c.worldKey, worldOf(cfg, c.declared)
		}
	}
	return res, nil
}

// compilation carries the state of one Compile.
type compilation struct {
	// ctx and schema are the first evaluator's: the config's hosts,
	// clusters and policies are evaluated there.
	ctx    *cue.Context
	schema cue.Value
	user   cue.Value
	diags  diag.List
	// cc is the Compiler this compilation belongs to.
	cc *Compiler
	// ev is the evaluator this compilation (or its copy compiling a
	// service on another goroutine) uses: at first the one the config's
	// instance is built in, then one of the Compiler's pool each.
	ev *evaluator
	// defaultForwarding is #Service's forwarding default.
	defaultForwarding string
	// tree is the config when it is plain data; its services are not in
	// user then.
	tree *plaindata.Node
	// declared names the hosts and clusters the user declared, valid or
	// not, by "hosts" and "clusters".
	declared map[string]map[string]bool
	// compiled counts the services compiled rather than reused;
	// memoHits those of them taken from opts.Memo.
	compiled, memoHits int
	// opts are the compile's options; serviceKeys the keys of its
	// valid services, when opts.Memo is set (Result.ServiceKeys).
	opts        Options
	serviceKeys map[string]ServiceKey
	// memoFiles are what the memo holds of the files it gave (not
	// read); digests the digest of each service's tree, by its node;
	// memoMiss says that the compile must be done again reading every
	// file (compileServices).
	memoFiles []*FileServices
	digests   map[*plaindata.Node][sha256.Size]byte
	memoMiss  bool
	// world is the world the memo gave for worldKey, the key of the
	// files' hosts, clusters and top level (when the compile has one):
	// the config's CUE value (user) is not built then.
	world    *World
	worldKey *WorldKey
	// worldSum is the SHA-256 of the world services and hosts are
	// checked against (Compiler.world), when there is a memo: part of
	// every service's and host's key.
	worldSum [sha256.Size]byte
	// fromMemo are the services the memo gave, whose views a compile
	// of this build found valid (directorViews).
	fromMemo map[*model.Service]bool
	// clusterFacts caches clusterFacts by cluster name, realFactsCache
	// the facts of real servers by host and address.
	clusterFacts, realFactsCache *factsMemo
	// classes are the classes of real servers' addresses and hosts
	// (addrclass.go, hostclass.go).
	classes *classMemo
	// addrs are the hosts' interface addresses, for the address rules.
	addrs *addressIndex
	// policyDirs are the policy directories on disk loadPacks read.
	policyDirs []string
}

// evaluator is a CUE context with the schema loaded into it and what it
// has learned of it. CUE's evaluator is not safe for concurrent use: each
// goroutine compiling services has an evaluator of its own. Their rule
// verdicts and literal values are shared.
type evaluator struct {
	ctx          *cue.Context
	schema       cue.Value
	serviceDef   cue.Value
	checks       *checks
	shapes       *plaindata.Shapes
	serviceShape *plaindata.Shape
}

func newEvaluator(verdicts *checkVerdicts, values *plaindata.Values) (*evaluator, error) {
	ev := &evaluator{ctx: cuecontext.New()}
	var err error
	if ev.schema, err = loadSchema(ev.ctx); err != nil {
		return nil, err
	}
	if ev.checks, err = newChecks(ev.schema, verdicts); err != nil {
		return nil, err
	}
	ev.serviceDef = ev.schema.LookupPath(cue.ParsePath("#Service"))
	ev.shapes = plaindata.NewShapes(ev.ctx, values, func(err error) string {
		msg, _ := bestMessage(errors.Errors(err))
		return msg
	})
	ev.serviceShape = plaindata.NewShape(ev.serviceDef)
	return ev, nil
}

// evaluators returns an evaluator for each core that n services can keep
// busy: a schema costs a few milliseconds to load, a service about a
// tenth of one to compile.
func (cc *Compiler) evaluators(n int) ([]*evaluator, error) {
	want := min(runtime.GOMAXPROCS(0), maxEvaluators, 1+n/100)
	for len(cc.pool) < want {
		ev, err := newEvaluator(cc.verdicts, cc.values)
		if err != nil {
			return nil, err
		}
		cc.pool = append(cc.pool, ev)
	}
	return cc.pool[:want], nil
}

// maxEvaluators bounds the CUE contexts a Compiler compiles services in.
const maxEvaluators = 16

// factsMemo keeps facts by name, shared by the goroutines that compile
// services. Each distinct encoding gets a small number, which stands for
// it in the checks' verdict keys; the numbers last as long as the
// verdicts (ids is the Compiler's), the facts one compile.
type factsMemo struct {
	mu  sync.Mutex
	m   map[string]factsOf
	ids map[string]int
}

func (m *factsMemo) get(k string, build func() map[string]any) factsOf {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f, ok := m.m[k]; ok {
		return f
	}
	if m.m == nil {
		m.m = map[string]factsOf{}
	}
	facts := build()
	key := appendKey(nil, facts)
	id, ok := m.ids[string(key)]
	if !ok {
		id = len(m.ids)
		m.ids[string(key)] = id
	}
	f := factsOf{facts: facts, id: id}
	m.m[k] = f
	return f
}

// clusterFactsOf returns clusterFacts of cl and its encoding, computed
// once per cluster.
func (c *compilation) clusterFactsOf(cl *model.Cluster, directors []*model.Host) factsOf {
	name := ""
	if cl != nil {
		name = cl.Name
	}
	return c.clusterFacts.get(name, func() map[string]any { return clusterFacts(cl, directors) })
}

// worldKey is what compiling a service reads besides the service: the
// hosts, the clusters and the names declared.
func worldKey(cfg *model.Config, declared map[string]map[string]bool) string {
	b, err := json.Marshal([]any{cfg.Hosts, cfg.Clusters, declared})
	if err != nil {
		// Never the same world twice: nothing is reused.
		return fmt.Sprintf("unencodable %p", cfg)
	}
	return string(b)
}

var (
	pathHosts    = cue.MakePath(cue.Str("hosts"))
	pathClusters = cue.MakePath(cue.Str("clusters"))
	pathServices = cue.MakePath(cue.Str("services"))
)

// compileWorld evaluates the config's top level, hosts and clusters with
// CUE into a model without services, checks them, and finds the names
// declared.
func (c *compilation) compileWorld() *model.Config {
	// #ConfigTop, not #Config: services are checked one at a time below;
	// here only the shape of the top level, hosts and clusters.
	cfgDef := c.schema.LookupPath(cue.ParsePath("#ConfigTop"))
	top := cfgDef.Unify(c.user)
	if err := top.Validate(cue.Concrete(true)); err != nil {
		c.addCUEErrors(err, c.user, cue.Path{}, func(path []string) bool {
			// services.NAME... belongs to the per-service check, but a
			// bad service name is reported here.
			return len(path) > 2 && path[0] == "services"
		})
	}
	cfg := &model.Config{Hosts: map[string]*model.Host{}, Clusters: map[string]*model.Cluster{}, Policies: []string{}, PolicySettings: map[string]any{}}
	_ = top.LookupPath(cue.ParsePath("policies")).Decode(&cfg.Policies)
	_ = top.LookupPath(cue.ParsePath("policySettings")).Decode(&cfg.PolicySettings)
	c.decodeHosts(top, cfg)
	c.decodeClusters(top, cfg)
	c.checkClusters(cfg)
	c.addrs = newAddressIndex(cfg)
	c.checkHostAddresses(cfg)
	c.declared = map[string]map[string]bool{}
	for _, kind := range []string{"hosts", "clusters"} {
		c.declared[kind] = map[string]bool{}
		forEachField(c.user.LookupPath(cue.MakePath(cue.Str(kind))), func(name string, _ cue.Value) {
			c.declared[kind][name] = true
		})
	}
	return cfg
}

func (c *compilation) compile() *model.Config {
	var cfg *model.Config
	if c.world != nil {
		cfg = c.worldFromMemo()
	} else {
		cfg = c.compileWorld()
	}
	// What was built against other hosts and clusters cannot be reused.
	c.cc.memo.newWorld(worldKey(cfg, c.declared))
	if c.opts.Memo != nil {
		c.worldSum = sha256.Sum256([]byte(c.cc.world))
	}

	if c.tree != nil {
		var fields []*plaindata.Field
		if f := c.tree.Get("services"); f != nil {
			fields = f.Val.Fields()
		}
		if len(fields) > 0 || len(c.memoFiles) > 0 {
			c.compiled = c.compileServices(fields, cfg)
			if c.memoMiss {
				return cfg
			}
		}
		slices.SortFunc(cfg.Services, func(a, b *model.Service) int { return strings.Compare(a.Name, b.Name) })
		c.checkUnique(cfg)
		c.checkActiveActiveServices(cfg)
		return cfg
	}
	svcs := c.user.LookupPath(pathServices)
	if svcs.Exists() {
		it, err := svcs.Fields()
		if err != nil {
			c.addCUEErrors(err, c.user, pathServices, nil)
			return cfg
		}
		for it.Next() {
			name := it.Selector().Unquoted()
			if s := c.compileService(name, it.Value(), cfg); s != nil {
				cfg.Services = append(cfg.Services, s)
			}
		}
	}
	slices.SortFunc(cfg.Services, func(a, b *model.Service) int { return strings.Compare(a.Name, b.Name) })
	c.checkUnique(cfg)
	c.checkActiveActiveServices(cfg)
	return cfg
}

// addCUEErrors turns CUE errors into diagnostics. root is the user value
// the error paths are relative to after base; skip drops errors by path.
func (c *compilation) addCUEErrors(err error, root cue.Value, base cue.Path, skip func([]string) bool) (paths [][]string) {
	type group struct {
		path []string
		errs []errors.Error
	}
	var groups []*group
	byPath := map[string]*group{}
	for _, e := range errors.Errors(err) {
		p := e.Path()
		// Errors under a definition (#Config..., #ServiceCheck.service...)
		// are re-rooted at the user's value.
		for len(p) > 0 && strings.HasPrefix(p[0], "#") {
			p = p[1:]
		}
		if len(base.Selectors()) > 0 && len(p) > 0 && p[0] == "service" {
			p = p[1:]
		}
		if skip != nil && skip(p) {
			continue
		}
		k := strings.Join(p, "\x00")
		g := byPath[k]
		if g == nil {
			g = &group{path: p}
			byPath[k] = g
			groups = append(groups, g)
		}
		g.errs = append(g.errs, e)
	}
	for _, g := range groups {
		paths = append(paths, g.path)
		msg, pos := bestMessage(g.errs)
		path, hint := g.path, ""
		if strings.Contains(msg, "not allowed") {
			// A name a pattern refuses is not a misspelt field.
			if at, m, h, ok := c.nameProblem(g.path); ok {
				path, msg, hint = at, m, h
			}
		}
		sel, uv := resolveUserPath(root, base, path)
		if !isUserPos(pos) {
			pos = valuePos(uv)
		}
		if hint == "" {
			hint = c.hintFor(sel, msg)
		}
		c.diags = append(c.diags, diag.Diagnostic{
			Rule:    "schema",
			Pos:     toPos(pos),
			Path:    sel.String(),
			Message: msg,
			Hint:    hint,
		})
	}
	return paths
}

// bestMessage picks, among the errors CUE reports for one field, the one a
// person can act on. A disjunction with a default (`*1 | int & >=0`) fails
// with one error per branch plus a summary; the summary and the
// "conflicting values" of the default branch are noise next to the real
// bound violation or the schema's own error("...") message.
func bestMessage(errs []errors.Error) (string, token.Pos) {
	score := func(e errors.Error) int {
		m := cleanMessage(e)
		switch {
		case strings.Contains(m, "errors in empty disjunction"):
			return 0
		case strings.HasPrefix(m, "conflicting values"):
			return 1
		case strings.HasPrefix(m, "invalid value") || strings.Contains(m, "not allowed"):
			return 3
		case !isUserPos(e.Position()) && e.Position().IsValid():
			return 4 // a custom error("...") from the schema
		}
		return 2
	}
	best := errs[0]
	for _, e := range errs[1:] {
		if score(e) > score(best) {
			best = e
		}
	}
	pos := best.Position()
	if !isUserPos(pos) {
		for _, p := range best.InputPositions() {
			if isUserPos(p) {
				pos = p
				break
			}
		}
	}
	if !isUserPos(pos) {
		for _, e := range errs {
			for _, p := range errors.Positions(e) {
				if isUserPos(p) {
					pos = p
					break
				}
			}
		}
	}
	msg := cleanMessage(best)
	// CUE's own phrasing names the schema's internals; say it in the
	// user's terms.
	msg = strings.ReplaceAll(msg, "(does not satisfy net.IP)", "(not an IP address)")
	msg = strings.ReplaceAll(msg, "(does not satisfy net.IPv4)", "(not an IPv4 address)")
	msg = strings.ReplaceAll(msg, "(does not satisfy net.IPv6)", "(not an IPv6 address)")
	msg = strings.ReplaceAll(msg, "(does not satisfy net.IPCIDR)", "(not an address/prefix)")
	return inWords(msg), pos
}

// resolveUserPath walks path (CUE error path elements) from base in root,
// returning the path as selectors and the deepest user value that exists
// along it, so a missing field reports at its parent.
func resolveUserPath(root cue.Value, base cue.Path, path []string) (cue.Path, cue.Value) {
	sels := slices.Clone(base.Selectors())
	cur := root.LookupPath(base)
	found := cur
	for _, el := range path {
		var sel cue.Selector
		if n, err := strconv.Atoi(el); err == nil && cur.Exists() && cur.IncompleteKind() == cue.ListKind {
			sel = cue.Index(n)
		} else if strings.HasPrefix(el, "#") {
			sel = cue.Def(el)
		} else {
			sel = cue.Str(strings.Trim(el, `"`))
		}
		sels = append(sels, sel)
		cur = cur.LookupPath(cue.MakePath(sel))
		if cur.Exists() {
			found = cur
		}
	}
	return cue.MakePath(sels...), found
}

// valuePos returns the first user-file position of v: the value itself
// rather than its field's label, like CUE's own errors.
func valuePos(v cue.Value) token.Pos {
	if f, ok := v.Source().(*ast.Field); ok && isUserPos(f.Value.Pos()) {
		return f.Value.Pos()
	}
	if p := v.Pos(); isUserPos(p) {
		return p
	}
	// A field defined in several places: any of the user's will do.
	_, args := v.Expr()
	for _, x := range args {
		if p := x.Pos(); isUserPos(p) {
			return p
		}
	}
	return v.Pos()
}

// hintFor finds the @hint attribute of the schema field at path, following
// a reference to a definition (port: #Port) when the field has none.
func (c *compilation) hintFor(path cue.Path, msg string) string {
	if strings.Contains(msg, "not allowed") {
		return "the schema does not know this field: check its spelling against docs/CONFIG.md"
	}
	sels := path.Selectors()
	var def cue.Value
	switch {
	case len(sels) >= 2 && sels[0].String() == "services":
		def = c.ev.schema.LookupPath(cue.ParsePath("#Service"))
		sels = sels[2:]
	default:
		def = c.ev.schema.LookupPath(cue.ParsePath("#Config"))
	}
	for _, s := range sels {
		next := def.LookupPath(cue.MakePath(s))
		if !next.Exists() && s.Type() == cue.IndexLabel {
			next = def.LookupPath(cue.MakePath(cue.AnyIndex))
		}
		if !next.Exists() && s.Type() == cue.StringLabel {
			next = def.LookupPath(cue.MakePath(s.Optional()))
		}
		if !next.Exists() {
			next = def.LookupPath(cue.MakePath(cue.AnyString))
		}
		if !next.Exists() {
			return ""
		}
		def = next
	}
	if a := def.Attribute("hint"); a.Err() == nil {
		if s, err := a.String(0); err == nil {
			return s
		}
	}
	if _, ref := def.ReferencePath(); len(ref.Selectors()) > 0 {
		if a := c.ev.schema.LookupPath(ref).Attribute("hint"); a.Err() == nil {
			if s, err := a.String(0); err == nil {
				return s
			}
		}
	}
	return ""
}

// addIssue records a Go-side or rule diagnostic at a user path, with the
// related positions of the facts it was found against.
func (c *compilation) addIssue(sev diag.Severity, rule string, base cue.Path, rel string, msg, hint string, related ...diag.Related) {
	path := base
	if rel != "" {
		path = cue.MakePath(append(slices.Clone(base.Selectors()), cue.ParsePath(rel).Selectors()...)...)
	}
	if sels := path.Selectors(); c.tree != nil && len(sels) > 0 && sels[0].String() == "services" {
		c.diags = append(c.diags, diag.Diagnostic{
			Severity: sev,
			Rule:     rule,
			Pos:      toPos(c.tree.Lookup(sels).Pos()),
			Path:     path.String(),
			Message:  msg,
			Hint:     hint,
			Related:  related,
		})
		return
	}
	// Walk to the deepest value that exists for the position.
	v := c.user.LookupPath(path)
	for s := path.Selectors(); !v.Exists() && len(s) > 0; s = s[:len(s)-1] {
		v = c.user.LookupPath(cue.MakePath(s[:len(s)-1]...))
	}
	c.diags = append(c.diags, diag.Diagnostic{
		Severity: sev,
		Rule:     rule,
		Pos:      toPos(valuePos(v)),
		Path:     path.String(),
		Message:  msg,
		Hint:     hint,
		Related:  related,
	})
}

func mustAddr(s string) netip.Addr {
	a, _ := netip.ParseAddr(s)
	return a
}

// errorf is shorthand for an error diagnostic.
func (c *compilation) errorf(rule string, base cue.Path, rel, hint, format string, args ...any) {
	c.addIssue(diag.Error, rule, base, rel, fmt.Sprintf(format, args...), hint)
}
