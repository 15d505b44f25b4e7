package compiler

import (
	"fmt"
	"math"

	"cuelang.org/go/cue"

	"github.com/lvsgen/lvsgen/model"
)

// rawService and the types below mirror #Service's fields. Both evaluation
// paths decode a validated service into one with decodeRaw, from
// JSON-like data: the whole-CUE path from what CUE decodes the service
// into, the plain-data path from the data it read, with the schema's
// defaults. The json tags name each field as the schema does;
// TestDecodeEveryField sets every field and holds decodeRaw, on both
// paths' data, to CUE's own decoding by those tags.
type rawService struct {
	Cluster      string            `json:"cluster"`
	VIP          string            `json:"vip"`
	Protocol     string            `json:"protocol"`
	Port         *int              `json:"port"`
	FWMark       uint32            `json:"fwmark"`
	Addresses    []string          `json:"addresses"`
	Family       string            `json:"family"`
	Forwarding   string            `json:"forwarding"`
	Tunnel       *rawTunnel        `json:"tunnel"`
	Scheduler    string            `json:"scheduler"`
	Flags        []string          `json:"flags"`
	Persistence  *rawPersistence   `json:"persistence"`
	OnePacket    bool              `json:"onePacket"`
	DrainTimeout string            `json:"drainTimeout"`
	Waive        map[string]string `json:"waive"`
	Check        *rawCheck         `json:"check"`
	Sorry        *rawSorry         `json:"sorry"`
	Quorum       int               `json:"quorum"`
	Hysteresis   int               `json:"hysteresis"`
	Reals        []rawReal         `json:"reals"`
	SNAT         string            `json:"snat"`
}

type rawSorry struct {
	Host    string `json:"host"`
	Address string `json:"address"`
	Port    *int   `json:"port"`
}

// rawCheck mirrors #Check.
type rawCheck struct {
	Type       string   `json:"type"`
	Port       *int     `json:"port"`
	Interval   string   `json:"interval"`
	Timeout    string   `json:"timeout"`
	Rise       int      `json:"rise"`
	Fall       int      `json:"fall"`
	Initial    string   `json:"initial"`
	OnFailure  string   `json:"onFailure"`
	Path       string   `json:"path"`
	Host       string   `json:"host"`
	Expect     []int    `json:"expect"`
	Body       string   `json:"body"`
	ServerName string   `json:"serverName"`
	Verify     *bool    `json:"verify"`
	Send       string   `json:"send"`
	Receive    string   `json:"receive"`
	Query      string   `json:"query"`
	QueryType  string   `json:"queryType"`
	Answer     string   `json:"answer"`
	Command    []string `json:"command"`
	User       string   `json:"user"`
}

type rawTunnel struct {
	Type     string `json:"type"`
	Port     uint16 `json:"port"`
	Checksum string `json:"checksum"`
}

type rawPersistence struct {
	Timeout uint32 `json:"timeout"`
	Netmask *int   `json:"netmask"`
	Engine  string `json:"engine"`
}

type rawReal struct {
	Host           string    `json:"host"`
	Address        string    `json:"address"`
	Port           *int      `json:"port"`
	Weight         int32     `json:"weight"`
	UpperThreshold uint32    `json:"upperThreshold"`
	LowerThreshold uint32    `json:"lowerThreshold"`
	Check          *rawCheck `json:"check"`
}

// buildDecoded decodes a validated service's data (with defaults) and
// builds its model, or reports why it cannot.
func (c *compilation) buildDecoded(base cue.Path, name string, res resolved, data map[string]any) *model.Service {
	r, err := decodeRaw(data)
	if err != nil {
		c.errorf("schema", base, "", "", "decoding service: %v", err)
		return nil
	}
	return res.build(name, r)
}

// decodeRaw reads a validated service's data (with defaults) into a
// rawService, as decoding its JSON would, without encoding it first. A
// number is an int64 (as CUE and plaindata decode an integer), an int or
// a whole float64.
func decodeRaw(data map[string]any) (rawService, error) {
	var d rawDecoder
	var r rawService
	r.Cluster = d.str(data, "cluster")
	r.VIP = d.str(data, "vip")
	r.Protocol = d.str(data, "protocol")
	r.Port = d.optInt(data, "port")
	r.FWMark = uint32(d.int(data, "fwmark", 0, math.MaxUint32))
	r.Addresses = d.strs(data, "addresses")
	r.Family = d.str(data, "family")
	r.Forwarding = d.str(data, "forwarding")
	r.SNAT = d.str(data, "snat")
	if t := d.obj(data, "tunnel"); t != nil {
		r.Tunnel = &rawTunnel{Type: d.str(t, "type"), Port: uint16(d.int(t, "port", 0, math.MaxUint16)), Checksum: d.str(t, "checksum")}
	}
	r.Scheduler = d.str(data, "scheduler")
	r.Flags = d.strs(data, "flags")
	if p := d.obj(data, "persistence"); p != nil {
		r.Persistence = &rawPersistence{Timeout: uint32(d.int(p, "timeout", 0, math.MaxUint32)), Netmask: d.optInt(p, "netmask"), Engine: d.str(p, "engine")}
	}
	r.OnePacket = d.bool(data, "onePacket")
	r.DrainTimeout = d.str(data, "drainTimeout")
	if w := d.obj(data, "waive"); w != nil {
		r.Waive = make(map[string]string, len(w))
		for k := range w {
			r.Waive[k] = d.str(w, k)
		}
	}
	r.Check = d.check(data, "check")
	if p := d.obj(data, "sorry"); p != nil {
		r.Sorry = &rawSorry{Host: d.str(p, "host"), Address: d.str(p, "address"), Port: d.optInt(p, "port")}
	}
	r.Quorum = int(d.int(data, "quorum", 0, math.MaxInt32))
	r.Hysteresis = int(d.int(data, "hysteresis", 0, math.MaxInt32))
	if list, ok := data["reals"]; ok && list != nil {
		l, ok := list.([]any)
		if !ok {
			d.fail("reals", list)
		}
		r.Reals = make([]rawReal, 0, len(l))
		for _, x := range l {
			m, ok := x.(map[string]any)
			if !ok {
				d.fail("reals", x)
				continue
			}
			r.Reals = append(r.Reals, rawReal{
				Host:           d.str(m, "host"),
				Address:        d.str(m, "address"),
				Port:           d.optInt(m, "port"),
				Weight:         int32(d.int(m, "weight", math.MinInt32, math.MaxInt32)),
				UpperThreshold: uint32(d.int(m, "upperThreshold", 0, math.MaxUint32)),
				LowerThreshold: uint32(d.int(m, "lowerThreshold", 0, math.MaxUint32)),
				Check:          d.check(m, "check"),
			})
		}
	}
	return r, d.err
}

// rawDecoder reads fields of decoded data, keeping the first mismatch.
type rawDecoder struct{ err error }

func (d *rawDecoder) fail(field string, v any) {
	if d.err == nil {
		d.err = fmt.Errorf("field %s: unexpected %T", field, v)
	}
}

func (d *rawDecoder) str(m map[string]any, k string) string {
	v, ok := m[k]
	if !ok || v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		d.fail(k, v)
	}
	return s
}

func (d *rawDecoder) bool(m map[string]any, k string) bool {
	v, ok := m[k]
	if !ok || v == nil {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		d.fail(k, v)
	}
	return b
}

func (d *rawDecoder) int(m map[string]any, k string, lo, hi int64) int64 {
	v, ok := m[k]
	if !ok || v == nil {
		return 0
	}
	var i int64
	switch n := v.(type) {
	case int64:
		i = n
	case int:
		i = int64(n)
	case float64:
		if n != math.Trunc(n) {
			d.fail(k, v)
			return 0
		}
		i = int64(n)
	default:
		d.fail(k, v)
		return 0
	}
	if i < lo || i > hi {
		if d.err == nil {
			d.err = fmt.Errorf("field %s: %d out of range", k, i)
		}
		return 0
	}
	return i
}

func (d *rawDecoder) optInt(m map[string]any, k string) *int {
	if v, ok := m[k]; !ok || v == nil {
		return nil
	}
	i := int(d.int(m, k, math.MinInt, math.MaxInt))
	return &i
}

func (d *rawDecoder) strs(m map[string]any, k string) []string {
	return decodeList(d, m, k, func(x any) string {
		s, ok := x.(string)
		if !ok {
			d.fail(k, x)
		}
		return s
	})
}

// decodeList reads the list at m[k], each element with elem; nil when
// there is none, and a failure when it is not a list.
func decodeList[T any](d *rawDecoder, m map[string]any, k string, elem func(any) T) []T {
	v, ok := m[k]
	if !ok || v == nil {
		return nil
	}
	l, ok := v.([]any)
	if !ok {
		d.fail(k, v)
		return nil
	}
	out := make([]T, 0, len(l))
	for _, x := range l {
		out = append(out, elem(x))
	}
	return out
}

// check reads a check, nil when there is none.
func (d *rawDecoder) check(m map[string]any, k string) *rawCheck {
	c := d.obj(m, k)
	if c == nil {
		return nil
	}
	r := &rawCheck{
		Type:       d.str(c, "type"),
		Port:       d.optInt(c, "port"),
		Interval:   d.str(c, "interval"),
		Timeout:    d.str(c, "timeout"),
		Rise:       int(d.int(c, "rise", 0, math.MaxInt32)),
		Fall:       int(d.int(c, "fall", 0, math.MaxInt32)),
		Initial:    d.str(c, "initial"),
		OnFailure:  d.str(c, "onFailure"),
		Path:       d.str(c, "path"),
		Host:       d.str(c, "host"),
		Expect:     d.ints(c, "expect"),
		Body:       d.str(c, "body"),
		ServerName: d.str(c, "serverName"),
		Send:       d.str(c, "send"),
		Receive:    d.str(c, "receive"),
		Query:      d.str(c, "query"),
		QueryType:  d.str(c, "queryType"),
		Answer:     d.str(c, "answer"),
		Command:    d.strs(c, "command"),
		User:       d.str(c, "user"),
	}
	if v, ok := c["verify"]; ok && v != nil {
		b := d.bool(c, "verify")
		r.Verify = &b
	}
	return r
}

// ints reads a list of numbers.
func (d *rawDecoder) ints(m map[string]any, k string) []int {
	return decodeList(d, m, k, func(x any) int {
		return int(d.int(map[string]any{k: x}, k, math.MinInt32, math.MaxInt32))
	})
}

func (d *rawDecoder) obj(m map[string]any, k string) map[string]any {
	v, ok := m[k]
	if !ok || v == nil {
		return nil
	}
	o, ok := v.(map[string]any)
	if !ok {
		d.fail(k, v)
	}
	return o
}
