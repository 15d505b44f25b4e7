package compilecache

import (
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/netip"
	"reflect"
	"slices"
	"sync"
	"unsafe"
)

// The codec writes a value of the compile's result types as a stream of
// uvarints and bytes, driven by the value's Go type, and reads it back into
// the same type. It exists because neither encoding/gob nor encoding/json
// round-trips the result exactly: gob reads an empty slice or map back as
// nil (and the JSON renderings print [] and null differently), JSON drops
// the fields tagged "-" and turns the numbers of policy settings into
// float64. Here a nil and an empty slice, map or pointer are told apart,
// every exported field is written whatever its tags, and the `any` values
// of policy settings keep their CUE-decoded types. A type the codec does
// not know — an unexported field, a channel, an unknown type in an `any`
// — is an error, so the result is then not cached rather than cached
// wrong.

var (
	binaryMarshaler   = reflect.TypeFor[encoding.BinaryMarshaler]()
	binaryUnmarshaler = reflect.TypeFor[encoding.BinaryUnmarshaler]()
	bigIntType        = reflect.TypeFor[*big.Int]()
	anyMapType        = reflect.TypeFor[map[string]any]()
	anySliceType      = reflect.TypeFor[[]any]()
)

// usesBinary reports whether t is written by its own MarshalBinary: the
// netip types, whose fields are unexported.
func usesBinary(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && t.Implements(binaryMarshaler) && reflect.PointerTo(t).Implements(binaryUnmarshaler)
}

// encoder appends to buf; scratch is memory of its own for a value's
// binary form before it is appended.
type encoder struct{ buf, scratch []byte }

func (e *encoder) uint(u uint64) { e.buf = binary.AppendUvarint(e.buf, u) }
func (e *encoder) int(i int64)   { e.buf = binary.AppendVarint(e.buf, i) }
func (e *encoder) bytes(b []byte) {
	e.uint(uint64(len(b)))
	e.buf = append(e.buf, b...)
}

// encode writes v, of a type decode reads back into the same type.
func (e *encoder) encode(v reflect.Value) error {
	if !v.CanAddr() {
		c := reflect.New(v.Type()).Elem()
		c.Set(v)
		v = c
	}
	return codecOf(v.Type()).enc(e, v.Addr().UnsafePointer())
}

// decode reads into v, which is settable and of the type encode wrote.
func (d *decoder) decode(v reflect.Value) error {
	return codecOf(v.Type()).dec(d, v.Addr().UnsafePointer())
}

// A codec writes and reads the values of one Go type, at a pointer to
// one: made once per type (codecOf) from what reflect says of it, so
// that the values are then walked without asking reflect again. Asking
// it for every field and element was most of the time of storing a
// host's state, which apply does after every edit.
type codec struct {
	enc func(e *encoder, p unsafe.Pointer) error
	dec func(d *decoder, p unsafe.Pointer) error
}

var (
	// codecs are the codecs made, read without a lock.
	codecs sync.Map // reflect.Type -> *codec
	// making, under codecMu, holds the codecs being made and those
	// they call (a type may refer to itself): a codec is in codecs
	// only once it and all it calls are whole.
	codecMu sync.Mutex
	making  = map[reflect.Type]*codec{}
)

// codecOf returns t's codec.
func codecOf(t reflect.Type) *codec {
	if c, ok := codecs.Load(t); ok {
		return c.(*codec)
	}
	codecMu.Lock()
	defer codecMu.Unlock()
	c := makeCodec(t)
	for t, c := range making {
		codecs.Store(t, c)
	}
	clear(making)
	return c
}

// makeCodec makes t's codec and those of the types within it; called
// with codecMu held. A type the codec does not support gets a codec that
// fails when a value of it is met, as reflect's walk did, so that a nil
// pointer to one is still written.
func makeCodec(t reflect.Type) *codec {
	if c, ok := codecs.Load(t); ok {
		return c.(*codec)
	}
	if c, ok := making[t]; ok {
		return c // whole once the outer call returns
	}
	c := &codec{}
	making[t] = c
	switch {
	case t == reflect.TypeFor[netip.Addr]():
		// The general case below, called directly: a host's state
		// holds thousands of addresses, and going through an
		// interface for each made BenchmarkCodecHost 8-10 % slower.
		c.enc = func(e *encoder, p unsafe.Pointer) error {
			b, err := (*netip.Addr)(p).AppendBinary(e.scratch[:0])
			e.scratch = b
			e.bytes(b)
			return err
		}
		c.dec = func(d *decoder, p unsafe.Pointer) error {
			b, err := d.lenBytes()
			if err != nil {
				return err
			}
			return (*netip.Addr)(p).UnmarshalBinary(b)
		}
		return c
	case usesBinary(t):
		c.enc = func(e *encoder, p unsafe.Pointer) error {
			x := reflect.NewAt(t, p).Interface()
			if a, ok := x.(encoding.BinaryAppender); ok {
				b, err := a.AppendBinary(e.scratch[:0])
				if err != nil {
					return err
				}
				e.scratch = b
				e.bytes(b)
				return nil
			}
			b, err := x.(encoding.BinaryMarshaler).MarshalBinary()
			if err != nil {
				return err
			}
			e.bytes(b)
			return nil
		}
		c.dec = func(d *decoder, p unsafe.Pointer) error {
			b, err := d.lenBytes()
			if err != nil {
				return err
			}
			return reflect.NewAt(t, p).Interface().(encoding.BinaryUnmarshaler).UnmarshalBinary(b)
		}
		return c
	}
	switch k := t.Kind(); k {
	case reflect.Bool:
		c.enc = func(e *encoder, p unsafe.Pointer) error {
			if *(*bool)(p) {
				e.uint(1)
			} else {
				e.uint(0)
			}
			return nil
		}
		c.dec = func(d *decoder, p unsafe.Pointer) error {
			u, err := d.uint()
			*(*bool)(p) = u != 0
			return err
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		bits := t.Size() * 8
		c.enc = func(e *encoder, p unsafe.Pointer) error {
			e.int(loadInt(p, bits))
			return nil
		}
		c.dec = func(d *decoder, p unsafe.Pointer) error {
			i, err := d.int()
			if err != nil {
				return err
			}
			if trunc := (i << (64 - bits)) >> (64 - bits); trunc != i {
				return fmt.Errorf("%d overflows %s", i, t)
			}
			storeUint(p, bits, uint64(i))
			return nil
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		bits := t.Size() * 8
		c.enc = func(e *encoder, p unsafe.Pointer) error {
			e.uint(loadUint(p, bits))
			return nil
		}
		c.dec = func(d *decoder, p unsafe.Pointer) error {
			u, err := d.uint()
			if err != nil {
				return err
			}
			if bits < 64 && u>>bits != 0 {
				return fmt.Errorf("%d overflows %s", u, t)
			}
			storeUint(p, bits, u)
			return nil
		}
	case reflect.Float32:
		c.enc = func(e *encoder, p unsafe.Pointer) error {
			e.uint(math.Float64bits(float64(*(*float32)(p))))
			return nil
		}
		c.dec = func(d *decoder, p unsafe.Pointer) error {
			u, err := d.uint()
			*(*float32)(p) = float32(math.Float64frombits(u))
			return err
		}
	case reflect.Float64:
		c.enc = func(e *encoder, p unsafe.Pointer) error {
			e.uint(math.Float64bits(*(*float64)(p)))
			return nil
		}
		c.dec = func(d *decoder, p unsafe.Pointer) error {
			u, err := d.uint()
			*(*float64)(p) = math.Float64frombits(u)
			return err
		}
	case reflect.String:
		c.enc = func(e *encoder, p unsafe.Pointer) error {
			s := *(*string)(p)
			e.uint(uint64(len(s)))
			e.buf = append(e.buf, s...)
			return nil
		}
		c.dec = func(d *decoder, p unsafe.Pointer) error {
			b, err := d.lenBytes()
			if err != nil {
				return err
			}
			*(*string)(p) = d.str(b)
			return nil
		}
	case reflect.Slice:
		makeSliceCodec(c, t)
	case reflect.Array:
		makeArrayCodec(c, t)
	case reflect.Map:
		makeMapCodec(c, t)
	case reflect.Pointer:
		elem := makeCodec(t.Elem())
		c.enc = func(e *encoder, p unsafe.Pointer) error {
			q := *(*unsafe.Pointer)(p)
			if q == nil {
				e.uint(0)
				return nil
			}
			e.uint(1)
			return elem.enc(e, q)
		}
		c.dec = func(d *decoder, p unsafe.Pointer) error {
			u, err := d.uint()
			if err != nil || u == 0 {
				return err
			}
			q := reflect.New(t.Elem()).UnsafePointer()
			if err := elem.dec(d, q); err != nil {
				return err
			}
			*(*unsafe.Pointer)(p) = q
			return nil
		}
	case reflect.Struct:
		makeStructCodec(c, t)
	case reflect.Interface:
		c.enc = func(e *encoder, p unsafe.Pointer) error { return e.encodeAny(reflect.NewAt(t, p).Elem()) }
		c.dec = func(d *decoder, p unsafe.Pointer) error { return d.decodeAny(reflect.NewAt(t, p).Elem()) }
	default:
		fail(c, fmt.Errorf("%s: type not supported", t))
	}
	return c
}

// fail makes c a codec that returns err.
func fail(c *codec, err error) {
	c.enc = func(*encoder, unsafe.Pointer) error { return err }
	c.dec = func(*decoder, unsafe.Pointer) error { return err }
}

// loadInt loads a signed integer of bits at p: its bits, sign-extended.
func loadInt(p unsafe.Pointer, bits uintptr) int64 {
	return int64(loadUint(p, bits)<<(64-bits)) >> (64 - bits)
}

func loadUint(p unsafe.Pointer, bits uintptr) uint64 {
	switch bits {
	case 8:
		return uint64(*(*uint8)(p))
	case 16:
		return uint64(*(*uint16)(p))
	case 32:
		return uint64(*(*uint32)(p))
	}
	return *(*uint64)(p)
}

// storeUint stores the low bits of u at p (signed integers too: their
// bits are the same).
func storeUint(p unsafe.Pointer, bits uintptr, u uint64) {
	switch bits {
	case 8:
		*(*uint8)(p) = uint8(u)
	case 16:
		*(*uint16)(p) = uint16(u)
	case 32:
		*(*uint32)(p) = uint32(u)
	default:
		*(*uint64)(p) = u
	}
}

// sliceHeader is the layout of a slice.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

func makeSliceCodec(c *codec, t reflect.Type) {
	if t.Elem().Kind() == reflect.Uint8 {
		// 0 is nil; n+1 a slice of n.
		c.enc = func(e *encoder, p unsafe.Pointer) error {
			b := *(*[]byte)(p)
			if b == nil {
				e.uint(0)
				return nil
			}
			e.uint(uint64(len(b)) + 1)
			e.buf = append(e.buf, b...)
			return nil
		}
		c.dec = func(d *decoder, p unsafe.Pointer) error {
			n, err := d.length()
			if err != nil || n == 0 {
				return err
			}
			b, err := d.take(uint64(n - 1))
			if err != nil {
				return err
			}
			// Shared with the payload, as strings are (str); the
			// capacity ends with it, so an append copies.
			*(*[]byte)(p) = b[: n-1 : n-1]
			return nil
		}
		return
	}
	elem, size := makeCodec(t.Elem()), t.Elem().Size()
	c.enc = func(e *encoder, p unsafe.Pointer) error {
		h := (*sliceHeader)(p)
		if h.data == nil {
			e.uint(0)
			return nil
		}
		e.uint(uint64(h.len) + 1)
		// Room for the elements, at least doubling: append's own
		// growth (a quarter at a time once large) copied a host's
		// entry many times over as it grew.
		if free := cap(e.buf) - len(e.buf); free < h.len {
			e.buf = slices.Grow(e.buf, max(h.len, len(e.buf)))
		}
		for i := range h.len {
			if err := elem.enc(e, unsafe.Add(h.data, uintptr(i)*size)); err != nil {
				return err
			}
		}
		return nil
	}
	c.dec = func(d *decoder, p unsafe.Pointer) error {
		n, err := d.length()
		if err != nil || n == 0 {
			return err
		}
		n--
		s := reflect.MakeSlice(t, n, n)
		data := s.UnsafePointer()
		for i := range n {
			if err := elem.dec(d, unsafe.Add(data, uintptr(i)*size)); err != nil {
				return err
			}
		}
		reflect.NewAt(t, p).Elem().Set(s)
		return nil
	}
}

func makeArrayCodec(c *codec, t reflect.Type) {
	n := t.Len()
	if t.Elem().Kind() == reflect.Uint8 {
		// A SHA-256 sum, a memo's keys: its bytes as they are.
		c.enc = func(e *encoder, p unsafe.Pointer) error {
			e.buf = append(e.buf, unsafe.Slice((*byte)(p), n)...)
			return nil
		}
		c.dec = func(d *decoder, p unsafe.Pointer) error {
			b, err := d.take(uint64(n))
			copy(unsafe.Slice((*byte)(p), n), b)
			return err
		}
		return
	}
	elem, size := makeCodec(t.Elem()), t.Elem().Size()
	c.enc = func(e *encoder, p unsafe.Pointer) error {
		for i := range n {
			if err := elem.enc(e, unsafe.Add(p, uintptr(i)*size)); err != nil {
				return err
			}
		}
		return nil
	}
	c.dec = func(d *decoder, p unsafe.Pointer) error {
		for i := range n {
			if err := elem.dec(d, unsafe.Add(p, uintptr(i)*size)); err != nil {
				return err
			}
		}
		return nil
	}
}

func makeMapCodec(c *codec, t reflect.Type) {
	key, val := makeCodec(t.Key()), makeCodec(t.Elem())
	c.enc = func(e *encoder, p unsafe.Pointer) error {
		m := reflect.NewAt(t, p).Elem()
		if m.IsNil() {
			e.uint(0)
			return nil
		}
		e.uint(uint64(m.Len()) + 1)
		// Each key and value copied where their codecs can point.
		k, v := reflect.New(t.Key()).Elem(), reflect.New(t.Elem()).Elem()
		for it := m.MapRange(); it.Next(); {
			k.SetIterKey(it)
			v.SetIterValue(it)
			if err := key.enc(e, k.Addr().UnsafePointer()); err != nil {
				return err
			}
			if err := val.enc(e, v.Addr().UnsafePointer()); err != nil {
				return err
			}
		}
		return nil
	}
	c.dec = func(d *decoder, p unsafe.Pointer) error {
		n, err := d.length()
		if err != nil || n == 0 {
			return err
		}
		n--
		m := reflect.MakeMapWithSize(t, n)
		for range n {
			k, v := reflect.New(t.Key()), reflect.New(t.Elem())
			if err := key.dec(d, k.UnsafePointer()); err != nil {
				return err
			}
			if err := val.dec(d, v.UnsafePointer()); err != nil {
				return err
			}
			m.SetMapIndex(k.Elem(), v.Elem())
		}
		reflect.NewAt(t, p).Elem().Set(m)
		return nil
	}
}

func makeStructCodec(c *codec, t reflect.Type) {
	type field struct {
		name   string
		offset uintptr
		codec  *codec
	}
	fields := make([]field, t.NumField())
	for i := range fields {
		f := t.Field(i)
		if !f.IsExported() {
			fail(c, fmt.Errorf("%s.%s: unexported field", t, f.Name))
			return
		}
		fields[i] = field{f.Name, f.Offset, makeCodec(f.Type)}
	}
	c.enc = func(e *encoder, p unsafe.Pointer) error {
		for _, f := range fields {
			if err := f.codec.enc(e, unsafe.Add(p, f.offset)); err != nil {
				return fmt.Errorf("%s.%s: %w", t, f.name, err)
			}
		}
		return nil
	}
	c.dec = func(d *decoder, p unsafe.Pointer) error {
		for _, f := range fields {
			if err := f.codec.dec(d, unsafe.Add(p, f.offset)); err != nil {
				return err
			}
		}
		return nil
	}
}

// The kinds of value an `any` holds: what cue.Value.Decode makes of a
// CUE value (policy settings).
const (
	anyNil = iota
	anyBool
	anyInt64
	anyFloat64
	anyString
	anyBytes
	anyList
	anyMap
	anyBigInt
)

func (e *encoder) encodeAny(v reflect.Value) error {
	if v.IsNil() {
		e.uint(anyNil)
		return nil
	}
	switch x := v.Elem().Interface().(type) {
	case bool:
		e.uint(anyBool)
	case int64:
		e.uint(anyInt64)
	case float64:
		e.uint(anyFloat64)
	case string:
		e.uint(anyString)
	case []byte:
		e.uint(anyBytes)
	case []any:
		e.uint(anyList)
	case map[string]any:
		e.uint(anyMap)
	case *big.Int:
		if x == nil {
			return errors.New("a nil *big.Int in an any")
		}
		e.uint(anyBigInt)
		e.bytes([]byte(x.String()))
		return nil
	default:
		return fmt.Errorf("%T in an any: type not supported", x)
	}
	return e.encode(v.Elem())
}

// encodeAll encodes v, a pointer to a value, into bytes of their own;
// decodeAll reads them back.
func encodeAll(v any) ([]byte, error) {
	var e encoder
	err := e.encode(reflect.ValueOf(v).Elem())
	return e.buf, err
}

// decodeAll decodes b into v, a pointer to a value of the type encoded,
// and requires it to be exactly b.
func decodeAll(b []byte, v any) error {
	d := decoder{buf: b}
	if err := d.decode(reflect.ValueOf(v).Elem()); err != nil {
		return err
	}
	if d.off != len(b) {
		return errors.New("bytes after the value")
	}
	return nil
}

// decoder reads buf from off.
type decoder struct {
	// buf is the payload, which nothing writes once it is read: the
	// strings and byte slices decoded share its memory (str).
	buf []byte
	off int
}

// str returns b as a string that shares its memory.
func (d *decoder) str(b []byte) string {
	// Not copied: b is part of the payload, read into memory of its own
	// and never written, which the strings keep alive (a few megabytes
	// at most). Copying each string, or interning it through a map, was
	// most of the decode of a service memo.
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

var errShort = errors.New("entry ends early")

func (d *decoder) uint() (uint64, error) {
	u, n := binary.Uvarint(d.buf[d.off:])
	if n <= 0 {
		return 0, errShort
	}
	d.off += n
	return u, nil
}

func (d *decoder) int() (int64, error) {
	i, n := binary.Varint(d.buf[d.off:])
	if n <= 0 {
		return 0, errShort
	}
	d.off += n
	return i, nil
}

// lenBytes returns the next bytes, whose length comes first.
func (d *decoder) lenBytes() ([]byte, error) {
	n, err := d.uint()
	if err != nil {
		return nil, err
	}
	return d.take(n)
}

// take returns the next n bytes.
func (d *decoder) take(n uint64) ([]byte, error) {
	if n > uint64(len(d.buf)-d.off) {
		return nil, errShort
	}
	b := d.buf[d.off : d.off+int(n)]
	d.off += int(n)
	return b, nil
}

// length reads the length of a slice or map as encode writes it — 0 for
// nil, else one more than the count of elements — and checks that the
// count is no more than the bytes left, each element being at least one
// byte long, so that a corrupt count cannot make decode allocate more
// than the entry holds.
func (d *decoder) length() (int, error) {
	n, err := d.uint()
	if err != nil {
		return 0, err
	}
	if n > 0 && n-1 > uint64(len(d.buf)-d.off) {
		return 0, errShort
	}
	return int(n), nil
}

func (d *decoder) decodeAny(v reflect.Value) error {
	kind, err := d.uint()
	if err != nil {
		return err
	}
	var t reflect.Type
	switch kind {
	case anyNil:
		return nil
	case anyBool:
		t = reflect.TypeFor[bool]()
	case anyInt64:
		t = reflect.TypeFor[int64]()
	case anyFloat64:
		t = reflect.TypeFor[float64]()
	case anyString:
		t = reflect.TypeFor[string]()
	case anyBytes:
		t = reflect.TypeFor[[]byte]()
	case anyList:
		t = anySliceType
	case anyMap:
		t = anyMapType
	case anyBigInt:
		n, err := d.uint()
		if err != nil {
			return err
		}
		b, err := d.take(n)
		if err != nil {
			return err
		}
		x, ok := new(big.Int).SetString(string(b), 10)
		if !ok {
			return fmt.Errorf("bad integer %q", b)
		}
		v.Set(reflect.ValueOf(x).Convert(bigIntType))
		return nil
	default:
		return fmt.Errorf("unknown kind %d in an any", kind)
	}
	x := reflect.New(t).Elem()
	if err := d.decode(x); err != nil {
		return err
	}
	v.Set(x)
	return nil
}
