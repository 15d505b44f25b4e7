package kernel

// OpError is the error of a kernel call that failed: what was being done,
// to which object, and why. Both kernels return one for every read and
// write that fails, and for every failed write of a batch, so that a
// caller can tell which object the kernel refused (errors.As) and why
// (errors.Is with the errno, kept in Err). (The in-memory twin's injected
// failures are the exception: they come back as the test made them.)
// Like os.PathError, it reads
// as the operation, then the object, then the cause:
//
//	adding destination 10.0.0.1:80 to tcp:192.0.2.10:80: file exists
type OpError struct {
	// Op is the verb, as a present participle: "adding", "updating",
	// "deleting", "replacing", "changing", "setting up", "setting",
	// "listing", "reading", "writing".
	Op string
	// Object names what Op was done to, starting with its kind, as it
	// reads in the message: "service tcp:192.0.2.10:80", "destination
	// 10.0.0.1:80 to tcp:192.0.2.10:80" (adding) or "destination
	// 10.0.0.1:80 of tcp:192.0.2.10:80" (the others), "IPVS timeouts",
	// "link dummy0", "address 192.0.2.10/32 dev dummy0", "route
	// 198.51.100.0/24 via 192.0.2.1", "fou port 5555 gue", "sysctl
	// net.ipv4.ip_forward"; for a read of a whole table, its plural:
	// "IPVS services", "links", "addresses", "routes", "fou ports",
	// "destinations of tcp:192.0.2.10:80".
	Object string
	// Err is the cause: the kernel's syscall.Errno, possibly wrapped with
	// the kernel's own message or more context; or the context's error.
	Err error
}

// Error reads as Op, Object, then Err: "adding link dummy0: file exists".
func (e *OpError) Error() string {
	s := e.Op
	if e.Object != "" {
		s += " " + e.Object
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause, so that errors.Is finds the errno.
func (e *OpError) Unwrap() error { return e.Err }

// WriteError is the error of the IPVS write w that failed with err: an
// *OpError naming the write as every kernel names it. With a nil err, its
// message is the write's description alone ("adding service
// tcp:192.0.2.10:80"). It is never nil.
func WriteError(w IPVSWrite, err error) *OpError {
	e := w.opError()
	e.Err = err
	return e
}

// opError names w's operation and object.
func (w IPVSWrite) opError() *OpError {
	k := w.Service.ServiceKey
	switch w.Op {
	case AddService:
		return &OpError{Op: "adding", Object: "service " + k.String()}
	case UpdateService:
		return &OpError{Op: "updating", Object: "service " + k.String()}
	case DelService:
		return &OpError{Op: "deleting", Object: "service " + k.String()}
	case AddDestination:
		return &OpError{Op: "adding", Object: "destination " + w.Dest.AddrPort().String() + " to " + k.String()}
	case UpdateDestination:
		return &OpError{Op: "updating", Object: "destination " + w.Dest.AddrPort().String() + " of " + k.String()}
	case DelDestination:
		return &OpError{Op: "deleting", Object: "destination " + w.Dest.AddrPort().String() + " of " + k.String()}
	}
	return &OpError{Op: "doing", Object: w.Op.String()}
}
