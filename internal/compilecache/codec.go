package compilecache

import (
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
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
// netip types, whose fields are unexported. Kept by type: asking reflect
// for every value took most of a decode's time.
func usesBinary(t reflect.Type) bool {
	if t.Kind() != reflect.Struct {
		return false
	}
	if b, ok := binaryTypes.Load(t); ok {
		return b.(bool)
	}
	b := t.Implements(binaryMarshaler) && reflect.PointerTo(t).Implements(binaryUnmarshaler)
	binaryTypes.Store(t, b)
	return b
}

var binaryTypes sync.Map

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
	t := v.Type()
	if usesBinary(t) {
		// Through a pointer when there is one (boxing the value would
		// allocate), appended to scratch memory when the type can
		// append (the netip types, whose AppendBinary writes what
		// MarshalBinary returns): a host state holds thousands.
		var x any
		if v.CanAddr() {
			x = v.Addr().Interface()
		} else {
			x = v.Interface()
		}
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
	switch t.Kind() {
	case reflect.Bool:
		if v.Bool() {
			e.uint(1)
		} else {
			e.uint(0)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.int(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.uint(v.Uint())
	case reflect.Float32, reflect.Float64:
		e.uint(math.Float64bits(v.Float()))
	case reflect.String:
		e.uint(uint64(v.Len()))
		e.buf = append(e.buf, v.String()...)
	case reflect.Slice:
		// 0 is nil; n+1 a slice of n.
		if v.IsNil() {
			e.uint(0)
			return nil
		}
		e.uint(uint64(v.Len()) + 1)
		if t.Elem().Kind() == reflect.Uint8 {
			e.buf = append(e.buf, v.Bytes()...)
			return nil
		}
		for i := range v.Len() {
			if err := e.encode(v.Index(i)); err != nil {
				return err
			}
		}
	case reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			// A SHA-256 sum, a memo's keys: its bytes as they are
			// (a uvarint each, through reflect, was most of a
			// memo's encode).
			if v.CanAddr() {
				e.buf = append(e.buf, v.Bytes()...)
				return nil
			}
			for i := range v.Len() {
				e.buf = append(e.buf, byte(v.Index(i).Uint()))
			}
			return nil
		}
		for i := range v.Len() {
			if err := e.encode(v.Index(i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		if v.IsNil() {
			e.uint(0)
			return nil
		}
		e.uint(uint64(v.Len()) + 1)
		for it := v.MapRange(); it.Next(); {
			if err := e.encode(it.Key()); err != nil {
				return err
			}
			if err := e.encode(it.Value()); err != nil {
				return err
			}
		}
	case reflect.Pointer:
		if v.IsNil() {
			e.uint(0)
			return nil
		}
		e.uint(1)
		return e.encode(v.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				return fmt.Errorf("%s.%s: unexported field", t, f.Name)
			}
			if err := e.encode(v.Field(i)); err != nil {
				return fmt.Errorf("%s.%s: %w", t, f.Name, err)
			}
		}
	case reflect.Interface:
		return e.encodeAny(v)
	default:
		return fmt.Errorf("%s: type not supported", t)
	}
	return nil
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

// decode reads into v, which is settable and of the type encode wrote.
func (d *decoder) decode(v reflect.Value) error {
	t := v.Type()
	if usesBinary(t) {
		n, err := d.uint()
		if err != nil {
			return err
		}
		b, err := d.take(n)
		if err != nil {
			return err
		}
		return v.Addr().Interface().(encoding.BinaryUnmarshaler).UnmarshalBinary(b)
	}
	switch t.Kind() {
	case reflect.Bool:
		u, err := d.uint()
		if err != nil {
			return err
		}
		v.SetBool(u != 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := d.int()
		if err != nil {
			return err
		}
		if v.OverflowInt(i) {
			return fmt.Errorf("%d overflows %s", i, t)
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u, err := d.uint()
		if err != nil {
			return err
		}
		if v.OverflowUint(u) {
			return fmt.Errorf("%d overflows %s", u, t)
		}
		v.SetUint(u)
	case reflect.Float32, reflect.Float64:
		u, err := d.uint()
		if err != nil {
			return err
		}
		v.SetFloat(math.Float64frombits(u))
	case reflect.String:
		n, err := d.uint()
		if err != nil {
			return err
		}
		b, err := d.take(n)
		if err != nil {
			return err
		}
		v.SetString(d.str(b))
	case reflect.Slice:
		n, err := d.length()
		if err != nil || n == 0 {
			return err
		}
		n--
		if t.Elem().Kind() == reflect.Uint8 {
			b, err := d.take(uint64(n))
			if err != nil {
				return err
			}
			// Shared with the payload, as strings are (str); the
			// capacity ends with it, so an append copies.
			v.SetBytes(b[:n:n])
			return nil
		}
		s := reflect.MakeSlice(t, n, n)
		for i := range n {
			if err := d.decode(s.Index(i)); err != nil {
				return err
			}
		}
		v.Set(s)
	case reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			b, err := d.take(uint64(v.Len()))
			if err != nil {
				return err
			}
			reflect.Copy(v, reflect.ValueOf(b))
			return nil
		}
		for i := range v.Len() {
			if err := d.decode(v.Index(i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		n, err := d.length()
		if err != nil || n == 0 {
			return err
		}
		n--
		m := reflect.MakeMapWithSize(t, n)
		for range n {
			k := reflect.New(t.Key()).Elem()
			if err := d.decode(k); err != nil {
				return err
			}
			e := reflect.New(t.Elem()).Elem()
			if err := d.decode(e); err != nil {
				return err
			}
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Pointer:
		u, err := d.uint()
		if err != nil || u == 0 {
			return err
		}
		p := reflect.New(t.Elem())
		if err := d.decode(p.Elem()); err != nil {
			return err
		}
		v.Set(p)
	case reflect.Struct:
		for i := range t.NumField() {
			if err := d.decode(v.Field(i)); err != nil {
				return err
			}
		}
	case reflect.Interface:
		return d.decodeAny(v)
	default:
		return fmt.Errorf("%s: type not supported", t)
	}
	return nil
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
