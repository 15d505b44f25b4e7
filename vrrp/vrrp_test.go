package vrrp_test

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/compiler"
	"github.com/lvsgen/lvsgen/importer"
	"github.com/lvsgen/lvsgen/vrrp"
)

// TestRoundTripThroughImporter renders the example site's VRRP for each
// director, reads it back with the keepalived importer's parser, and
// checks that keepalived would hold exactly the config's VIPs: those the
// edge cluster's services bind, read here from the config, and checked by
// hand against examples/services-edge.cue.
func TestRoundTripThroughImporter(t *testing.T) {
	res, err := compiler.Compile("../examples")
	if err != nil || !res.Valid() {
		t.Fatalf("%v %s", err, res.Diagnostics)
	}
	var fromConfig []string
	for _, s := range res.Config.Services {
		if s.Cluster == "edge" {
			for _, a := range s.BoundAddresses() {
				fromConfig = append(fromConfig, a.String())
			}
		}
	}
	slices.Sort(fromConfig)
	fromConfig = slices.Compact(fromConfig)
	if diff := cmp.Diff([]string{"192.0.2.10", "192.0.2.11", "2001:db8:100::10"}, fromConfig); diff != "" {
		t.Fatalf("the example's edge VIPs changed: update this test (-want +got):\n%s", diff)
	}
	type instance struct {
		Name, State, Interface     string
		RouterID, Priority, Advert int
	}
	for _, tt := range []struct {
		host string
		want []instance
	}{
		{"lb1", []instance{{"edge", "MASTER", "eth0", 51, 150, 1}, {"edge_v6", "MASTER", "eth0", 51, 150, 1}}},
		{"lb2", []instance{{"edge", "BACKUP", "eth0", 51, 100, 1}, {"edge_v6", "BACKUP", "eth0", 51, 100, 1}}},
	} {
		t.Run(tt.host, func(t *testing.T) {
			var b bytes.Buffer
			if err := vrrp.Write(&b, tt.host, vrrp.Build(res.Config, tt.host)); err != nil {
				t.Fatal(err)
			}
			read, err := importer.ReadVRRP("keepalived.conf", importer.MapFiles{"keepalived.conf": b.String()}, "")
			if err != nil {
				t.Fatalf("%v\n%s", err, b.String())
			}
			var got []instance
			var vips []string
			for _, in := range read {
				got = append(got, instance{in.Name, in.State, in.Interface, in.RouterID, in.Priority, in.AdvertInterval})
				for _, v := range in.VIPs {
					p, err := netip.ParsePrefix(v[0])
					if err != nil || !p.IsSingleIP() || strings.Join(v[1:], " ") != "dev eth0" {
						t.Errorf("virtual_ipaddress entry %q: want a host address on dev eth0", v)
						continue
					}
					vips = append(vips, p.Addr().String())
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("instances (-want +got):\n%s", diff)
			}
			slices.Sort(vips)
			if diff := cmp.Diff(fromConfig, vips); diff != "" {
				t.Errorf("VIPs read back (-config +keepalived):\n%s\n%s", diff, b.String())
			}
		})
	}
	if got := vrrp.Build(res.Config, "nat1"); len(got) != 0 {
		t.Errorf("nat1's cluster declares no vrrp, got %+v", got)
	}
}

// TestAuthOnIPv4Only: the password goes in the IPv4 instance; VRRPv3,
// which keepalived runs for IPv6, has no authentication.
func TestAuthOnIPv4Only(t *testing.T) {
	res, err := compiler.Compile("../examples")
	if err != nil || !res.Valid() {
		t.Fatalf("%v %s", err, res.Diagnostics)
	}
	res.Config.Clusters["edge"].VRRP.AuthPass = "s3cret"
	var b bytes.Buffer
	if err := vrrp.Write(&b, "lb1", vrrp.Build(res.Config, "lb1")); err != nil {
		t.Fatal(err)
	}
	read, err := importer.ReadVRRP("k.conf", importer.MapFiles{"k.conf": b.String()}, "")
	if err != nil || len(read) != 2 || read[0].AuthPass != "s3cret" || read[1].AuthPass != "" {
		t.Fatalf("%v %+v\n%s", err, read, b.String())
	}
}
