// Package importer writes an lvsgen configuration that describes a Linux
// IPVS director as it runs today, from an `ipvsadm-save -n` capture
// (FromSave) or from keepalived's configuration (FromKeepalived), so that
// an operator can adopt lvsgen without changing anything on the host: the
// first `lvsgen plan` against it shows no IPVS changes.
//
// Both importers first work out the IPVS table the source stands for — the
// capture itself, or the table keepalived programs once its checkers pass
// — and then write one lvsgen service per IPVS service. A service lvsgen
// cannot express (mixed forwarding methods in one service, sh with flag-3,
// a fwmark of 2^31 or more, ...) is not imported: it is written as a
// comment with the reason and the ipvsadm lines it stands for, and lvsgen
// leaves it alone on the host (plan lists it as unmanaged). What keepalived
// does beyond programming IPVS — VRRP, health checkers, sorry servers,
// notify scripts — is listed as comments where it was in keepalived.conf
// and in Result.Unmodelled.
//
// Neither source tells the director's interfaces or who binds the VIPs.
// The output declares the director with an interface per subnet of its DR
// and NAT real servers — the narrowest from a /24 (IPv4) or /64 (IPv6) with
// no real server or VIP at its network or broadcast address, down to a /16 —
// marked as inferred, so that the topology and address rules pass as it
// stands; sets vip.bind to "none" so that lvsgen
// adds no address; names real servers by address; and keeps the kernel's
// defaults for the IPVS sysctls. Its header comment lists what to check
// next. Check compiles the output and proves that it renders the imported
// services exactly.
package importer

import (
	"fmt"
	"regexp"

	"github.com/lvsgen/lvsgen/ipvs"
)

// Options are what an import cannot learn from its source.
type Options struct {
	// Director is the host name of the director whose table is imported.
	Director string
	// Cluster is the name of the cluster the director and the services
	// go in; DefaultCluster when empty.
	Cluster string
	// Source names the input in comments and errors, e.g. "lb1.save".
	Source string
	// Command is how the import was run, for the header comment, e.g.
	// "lvsgen import ipvsadm-save lb1.save --director lb1".
	Command string
}

// DefaultCluster is the cluster name used when Options.Cluster is empty.
const DefaultCluster = "imported"

// Result is an import: the lvsgen configuration and what went into it.
type Result struct {
	// Director and Cluster are the names used in CUE.
	Director string
	Cluster  string
	// Table is the IPVS table the source stands for, every service of it,
	// in the order the source gave them.
	Table []ipvs.Service
	// Imported are the services of Table the configuration reproduces,
	// with the lvsgen service name of each.
	Imported []Imported
	// Skipped are the services of Table lvsgen cannot express; the
	// configuration carries them as comments.
	Skipped []Skipped
	// Unmodelled lists what the source configures that lvsgen does not
	// model (keepalived's VRRP, checkers, ...), each also a comment at its
	// place in the configuration.
	Unmodelled []Note
	// Warnings are things the user should know about the import, such as
	// keepalived settings keepalived itself corrects or ignores.
	Warnings []Note
	// CUE is the formatted configuration file.
	CUE []byte
	// emptyWhy says why the source may hold no service, for Empty.
	emptyWhy string
}

// EmptyError is an import that imported no service: most likely the wrong
// file, or conditional lines or includes that did not read what the
// operator expected, so it is not taken for success.
type EmptyError struct{ Why string }

// Error says that nothing was imported, and why.
func (e *EmptyError) Error() string { return "nothing imported: " + e.Why }

// Empty returns an *EmptyError when the import holds no service lvsgen
// manages, saying why, and nil otherwise.
func (r *Result) Empty() error {
	if len(r.Imported) > 0 {
		return nil
	}
	if len(r.Table) > 0 {
		return &EmptyError{Why: fmt.Sprintf("lvsgen can express none of the %d IPVS services (listed above as not imported)", len(r.Table))}
	}
	why := r.emptyWhy
	if why == "" {
		why = "the capture holds no IPVS service"
	}
	return &EmptyError{Why: why}
}

// Imported is an IPVS service the configuration reproduces.
type Imported struct {
	Name    string
	Service ipvs.Service
}

// Skipped is an IPVS service lvsgen cannot express.
type Skipped struct {
	Service ipvs.Service
	Reason  string
	// Where is the position in the source, e.g. "keepalived.conf:12".
	Where string
}

// Note is a remark about a place in the source.
type Note struct {
	// Where is the position in the source, e.g. "keepalived.conf:12".
	Where string
	// Keyword is the keepalived keyword the note is about, if any.
	Keyword string
	What    string
}

// String renders the note as "where: what".
func (n Note) String() string {
	if n.Where == "" {
		return n.What
	}
	return n.Where + ": " + n.What
}

// Error is malformed input: the file, the line and the token at fault.
type Error struct {
	File  string
	Line  int
	Token string
	Msg   string
	Err   error
}

// Error renders the error as `lb1.save:3: unknown option "--foo"`.
func (e *Error) Error() string {
	s := e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, s)
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, s)
	case e.File != "":
		return e.File + ": " + s
	}
	return s
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// OptionError is an option the import cannot use, such as a host name
// lvsgen does not accept.
type OptionError struct{ Msg string }

// Error returns the message.
func (e *OptionError) Error() string { return e.Msg }

// namePattern is the schema's #Name.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// CheckName reports whether s can name a host or cluster in lvsgen.
func CheckName(what, s string) error {
	if !namePattern.MatchString(s) {
		return &OptionError{Msg: fmt.Sprintf("%s name %q: use letters, digits, '_', '.' and '-', starting with a letter or digit", what, s)}
	}
	return nil
}

func (o Options) cluster() string {
	if o.Cluster == "" {
		return DefaultCluster
	}
	return o.Cluster
}

func (o Options) check() error {
	if o.Director == "" {
		return &OptionError{Msg: "the director's host name is required"}
	}
	if err := CheckName("director", o.Director); err != nil {
		return err
	}
	return CheckName("cluster", o.cluster())
}
