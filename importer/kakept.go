package importer

// This file holds what keepalived keeps doing after the import: the
// keywords of health checking, notification, quorum, VRRP and the rest that
// have nothing to do with the IPVS table, and how the import reports them
// (as comments where they were, and in Result.Unmodelled).

import "slices"

// keep records a setting keepalived keeps doing and returns its comment.
func (k *kaImport) keep(pos kaPos, keyword, what string) string {
	k.unmodelled = append(k.unmodelled, Note{Where: pos.String(), Keyword: keyword, What: what})
	return "keepalived keeps (" + pos.String() + "): " + what
}

// Keywords keepalived takes in a virtual_server and a real_server that
// only health checking, notification and quorum use.
var (
	vsUnmodelled = map[string]string{
		"delay_before_retry": "health checking (lvsgen checks at the interval, also after a failure)",
		"warmup":             "health checking (lvsgen starts checking at once)",
		"ha_suspend":         "health checking", "smtp_alert": "notification",
		"snmp_name": "SNMP", "omega": "notification",
		"quorum_up": "quorum notification", "quorum_down": "quorum notification",
		"sorry_server_inhibit": "the sorry server (lvsgen adds its sorry server at weight 1)", "sorry_server_lvs_method": "the sorry server",
	}
	rsUnmodelled = map[string]string{
		"notify_up": "notification", "notify_down": "notification",
		"delay_before_retry": "health checking (lvsgen checks at the interval, also after a failure)",
		"warmup":             "health checking (lvsgen starts checking at once)",
		"smtp_alert":         "notification", "snmp_name": "SNMP",
		"track_file": "health checking", "track_bfd": "health checking",
	}
	checkers = map[string]bool{
		"HTTP_GET": true, "SSL_GET": true, "TCP_CHECK": true, "SMTP_CHECK": true, "DNS_CHECK": true,
		"MISC_CHECK": true, "BFD_CHECK": true, "UDP_CHECK": true, "PING_CHECK": true, "FILE_CHECK": true,
	}
	// topUnmodelled are top-level keywords keepalived knows that have
	// nothing to do with the IPVS table.
	topUnmodelled = map[string]string{
		"vrrp_instance": "VRRP", "vrrp_sync_group": "VRRP", "vrrp_script": "VRRP tracking", "vrrp_track_process": "VRRP tracking",
		"track_file": "tracking", "vrrp_track_file": "tracking", "static_ipaddress": "static addresses", "static_routes": "static routes",
		"static_rules": "static rules", "linkbeat_interfaces": "link beat", "bfd_instance": "BFD", "garp_group": "gratuitous ARP",
		"SSL": "checker TLS", "net_namespace": "the namespace", "net_namespace_ipvs": "the namespace", "instance": "the instance",
		"use_pid_dir": "process handling", "child_wait_time": "process handling", "vrrp_garp_interval": "VRRP",
	}
)

// vrrpAddresses lists a vrrp_instance's virtual addresses.
func vrrpAddresses(st *kaStmt) []string {
	var out []string
	for _, s := range st.block {
		if s.keyword() == "virtual_ipaddress" || s.keyword() == "virtual_ipaddress_excluded" {
			for _, a := range s.block {
				out = append(out, a.keyword())
			}
		}
	}
	return out
}

// checkerSummary describes a health checker block in one line.
func checkerSummary(st *kaStmt) string {
	var inner []string
	for _, s := range st.block {
		if !slices.Contains(inner, s.keyword()) {
			inner = append(inner, s.keyword())
		}
	}
	s := st.text() + " health checker"
	if len(inner) > 0 {
		s += " {" + elide(inner, 8) + "}"
	}
	return s
}
