package compiler

import (
	"slices"
	"strconv"
	"strings"

	"cuelang.org/go/cue"

	"github.com/lvsgen/lvsgen/compiler/internal/plaindata"
	"github.com/lvsgen/lvsgen/diag"
	"github.com/lvsgen/lvsgen/model"
)

// compileServiceTree is compileService for a service read from a tree.
func (c *compilation) compileServiceTree(name string, n *plaindata.Node, cfg *model.Config) *model.Service {
	base := cue.MakePath(cue.Str("services"), cue.Str(name))
	before := len(c.diags)

	str := func(n *plaindata.Node, field string) (string, bool) {
		f := n.Get(field)
		if f == nil || f.Val.Kind() != plaindata.Leaf {
			return "", false
		}
		v, ok := c.ev.shapes.Value(f.Val).(string)
		return v, ok
	}
	var names serviceNames
	names.vip, names.hasVIP = str(n, "vip")
	names.family, _ = str(n, "family")
	names.cluster, names.hasCluster = str(n, "cluster")
	if rf := n.Get("reals"); rf != nil && rf.Val.Kind() == plaindata.List {
		for _, e := range rf.Val.Elems() {
			var sp realSpec
			if e.Kind() == plaindata.Struct {
				sp.host, sp.hasHost = str(e, "host")
				sp.addr, sp.hasAddr = str(e, "address")
			}
			names.reals = append(names.reals, sp)
		}
	}
	res := c.resolveService(base, names, cfg)

	var issues []plaindata.Issue
	c.ev.shapes.Check(c.ev.serviceShape, n, make([]string, 0, 4), &issues)
	var dropped []string
	for _, is := range issues {
		dropped = append(dropped, strings.Join(is.Path, "."))
		sels := base.Selectors()
		for _, p := range is.Path {
			if i, err := strconv.Atoi(p); err == nil {
				sels = append(sels, cue.Index(i))
			} else {
				sels = append(sels, cue.Str(p))
			}
		}
		path := cue.MakePath(sels...)
		hint := c.hintFor(path, is.Msg)
		c.diags = append(c.diags, diag.Diagnostic{
			Rule:    "schema",
			Pos:     toPos(is.Node.Pos()),
			Path:    path.String(),
			Message: is.Msg,
			Hint:    hint,
		})
	}
	data, _ := c.ev.shapes.Data(n, dropped).(map[string]any)
	c.runRules(ruleInput{
		resolved: res,
		base:     base,
		data:     data,
		hasVIP:   names.hasVIP && !slices.Contains(dropped, "vip"),
		shapeOK:  len(issues) == 0,
		dropped:  dropped,
	})
	if diag.List(c.diags[before:]).HasErrors() {
		return nil
	}
	c.ev.shapes.WithDefaults(c.ev.serviceShape, data)
	return c.buildDecoded(base, name, res, data)
}
