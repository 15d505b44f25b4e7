package kernel

import (
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsgen/lvsgen/ipvs"
)

func TestNFTTableText(t *testing.T) {
	tab := NFTTable{Family: NFTIPv4, Name: NFTTableName, Chains: []NFTChain{SNATChain([]SNATRule{
		{Protocol: ipvs.TCP, VIP: netip.MustParseAddr("192.0.2.20"), Port: 80, Real: netip.MustParseAddr("10.30.0.11"), To: netip.MustParseAddr("10.20.0.2")},
		{Protocol: ipvs.UDP, VIP: netip.MustParseAddr("192.0.2.21"), Real: netip.MustParseAddr("10.30.0.12"), To: netip.MustParseAddr("10.20.0.2")},
	})}}
	// As nft 1.0.6 (Debian 12) lists the table lvsgen writes: checked
	// against the real nft by e2e/apply's TestApplyFullNAT.
	want := `table ip lvsgen {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		meta l4proto tcp ct original ip daddr 192.0.2.20 ct original proto-dst 80 ip daddr 10.30.0.11 snat to 10.20.0.2
		meta l4proto udp ct original ip daddr 192.0.2.21 ip daddr 10.30.0.12 snat to 10.20.0.2
	}
}
`
	if d := cmp.Diff(want, tab.Text()); d != "" {
		t.Errorf("Text (-want +got):\n%s", d)
	}
}

func TestSNATRuleJSON(t *testing.T) {
	r := SNATRule{Protocol: ipvs.SCTP, VIP: netip.MustParseAddr("2001:db8::20"), Port: 443, Real: netip.MustParseAddr("2001:db8:30::11"), To: netip.MustParseAddr("2001:db8:20::2")}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"protocol":"sctp","vip":"2001:db8::20","port":443,"real":"2001:db8:30::11","to":"2001:db8:20::2"}`; string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
	var back SNATRule
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back != r {
		t.Errorf("read back %+v, want %+v", back, r)
	}
	if err := json.Unmarshal([]byte(`{"protocol":"icmp"}`), &back); err == nil {
		t.Error("an unknown protocol reads without error")
	}
}
