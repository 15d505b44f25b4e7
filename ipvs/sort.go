package ipvs

import "net/netip"

// Sort orders services, and the destinations of each service, exactly as
// ipvsadm 1.31 orders them when it lists or saves the table.
//
// ipvsadm always sorts unless --nosort is given, and `ipvsadm -S` has no
// --nosort (ipvsadm.c: list_all sorts the services with
// ipvs_sort_services(get, ipvs_cmp_services); print_service_entry sorts
// each service's destinations with ipvs_sort_dests(d, ipvs_cmp_dests)).
// Both sorts are glibc qsort calls with these comparators
// (libipvs/libipvs.c):
//
//   - ipvs_cmp_services compares, in this order, the firewall mark, the
//     address family, the protocol, the address and the port. The family,
//     protocol and port are 16-bit and compared exactly. The mark and the
//     address are compared by subtracting unsigned 32-bit values and
//     reading the result as a signed int: a - b wraps around, so a is
//     "greater" than b when (a - b) mod 2^32 is in 1..2^31-1. An IPv6
//     address is compared word by word (four big-endian 32-bit words, each
//     with the same wrapping subtraction) until a word differs. A
//     firewall-mark service has protocol, address and port 0 here, so a
//     non-fwmark service (mark 0) sorts after every mark of 2^31+1 or more.
//   - ipvs_cmp_dests compares the address, then the port, the same way. It
//     looks only at the first destination's family: when it is IPv4 only
//     the first 32-bit word of both addresses is compared, when it is IPv6
//     all four are (an IPv4 address reads as its 32 bits followed by
//     zeros). Mixed families occur only with tunnel destinations.
//
// The wrapping subtraction makes the comparison a total order only when
// all the compared values lie within 2^31 of each other (for example all
// addresses in 0.0.0.0–127.255.255.255 or all in 128.0.0.0–255.255.255.255,
// or all fwmarks below 2^31). When the values spread over the whole 32-bit
// space the comparison is not transitive (10.0.0.1 < 100.0.0.1 <
// 200.0.0.1 < 10.0.0.1), and the order ipvsadm prints depends on the order
// the kernel handed the entries over in, which is its hash-table order, not
// anything in the rules. Sort reproduces even that case given the same
// input order: it uses the algorithm of glibc's qsort (a top-down merge
// sort that splits n into n/2 and n-n/2 and takes from the left run while
// cmp(left, right) <= 0), which is what qsort runs for tables of any
// realistic size. For a total order the result is simply the sorted order,
// and equal elements keep their input order. Without one, sorting an
// already sorted list again can reorder it, so FormatSave(ParseSave(text))
// keeps text's lines but not always their order. The e2e oracle checks Sort
// against ipvsadm on tables the kernel dumps in its own order, a
// non-transitive one included.
func Sort(services []Service) {
	for i := range services {
		SortDestinations(services[i].Destinations)
	}
	SortServices(services)
}

// SortServices is Sort without sorting each service's destinations: for
// services whose destinations are sorted already, and may be shared.
func SortServices(services []Service) { mergeSort(services, cmpServices) }

// SortDestinations sorts one service's destinations as Sort does.
func SortDestinations(d []Destination) { mergeSort(d, cmpDests) }

// addrWords returns the address as libipvs holds it: a 16-byte union read
// as four big-endian 32-bit words, IPv4 in the first word and zeros after
// it, and all zeros for no address (a firewall-mark service).
func addrWords(a netip.Addr) [4]uint32 {
	var w [4]uint32
	switch {
	case !a.IsValid():
	case a.Is4():
		b := a.As4()
		w[0] = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	default:
		b := a.As16()
		for i := range w {
			w[i] = uint32(b[4*i])<<24 | uint32(b[4*i+1])<<16 | uint32(b[4*i+2])<<8 | uint32(b[4*i+3])
		}
	}
	return w
}

// cmpWrap is C's "int r = a - b" for unsigned 32-bit a and b.
func cmpWrap(a, b uint32) int32 { return int32(a - b) }

// cmpAddr compares the first one (IPv4) or all four (IPv6) address words,
// as the libipvs comparators do, by the family of the first operand.
func cmpAddr(f Family, a, b netip.Addr) int32 {
	wa, wb := addrWords(a), addrWords(b)
	if f != IPv6 {
		return cmpWrap(wa[0], wb[0])
	}
	var r int32
	for i := 0; r == 0 && i < 4; i++ {
		r = cmpWrap(wa[i], wb[i])
	}
	return r
}

// cmpServices is ipvs_cmp_services.
func cmpServices(a, b *Service) int32 {
	if r := cmpWrap(a.FWMark, b.FWMark); r != 0 {
		return r
	}
	if r := int32(a.Family) - int32(b.Family); r != 0 {
		return r
	}
	ak, bk := dumpedKey(a), dumpedKey(b)
	if r := int32(ak.Protocol) - int32(bk.Protocol); r != 0 {
		return r
	}
	if r := cmpAddr(a.Family, ak.Addr, bk.Addr); r != 0 {
		return r
	}
	return int32(ak.Port) - int32(bk.Port)
}

// dumpedKey is the key as libipvs reads it back from the kernel: a
// firewall-mark service comes without protocol, address and port.
func dumpedKey(s *Service) ServiceKey {
	if s.FWMark != 0 {
		return ServiceKey{FWMark: s.FWMark, Family: s.Family}
	}
	return s.ServiceKey
}

// cmpDests is ipvs_cmp_dests.
func cmpDests(a, b *Destination) int32 {
	if r := cmpAddr(FamilyOf(a.Addr), a.Addr, b.Addr); r != 0 {
		return r
	}
	return int32(a.Port) - int32(b.Port)
}

// mergeSort sorts s as glibc's msort_with_tmp does: split into the first
// n/2 and the remaining n-n/2 elements, sort each, then merge, taking the
// left element while cmp(left, right) <= 0.
func mergeSort[T any](s []T, cmp func(a, b *T) int32) {
	if len(s) <= 1 {
		return
	}
	tmp := make([]T, len(s))
	msort(s, tmp, cmp)
}

func msort[T any](s, tmp []T, cmp func(a, b *T) int32) {
	n := len(s)
	if n <= 1 {
		return
	}
	n1 := n / 2
	left, right := s[:n1], s[n1:]
	msort(left, tmp, cmp)
	msort(right, tmp, cmp)

	out := tmp[:0]
	i, j := 0, 0
	for i < len(left) && j < len(right) {
		if cmp(&left[i], &right[j]) <= 0 {
			out = append(out, left[i])
			i++
		} else {
			out = append(out, right[j])
			j++
		}
	}
	out = append(out, left[i:]...)
	// What is left of the right run is already in place.
	copy(s, out)
}
