#!/usr/bin/env bash
# Installs what the e2e harness (e2e/) needs to boot a real Linux kernel with
# IPVS under qemu: qemu, busybox, ipvsadm, kmod, cpio and iproute2 from apt,
# and the Debian cloud kernel package, downloaded (not installed) into the
# harness cache, where e2e/vm unpacks it. nftables is optional for the harness
# (it copies nft into the VM when present) but installed so guest tests can
# mark packets for firewall-mark services. keepalived is copied into the VM
# (with its libraries) so that e2e/importer can compare what keepalived
# programs with what lvsgen imports from the same keepalived.conf. bird2's
# bird and birdc are copied into the VM too: e2e/failover runs a router and
# two active-active directors speaking BGP with them; bird/'s test also
# parses the rendered BGP configuration with `bird -p -c` on the host.
#
# Idempotent and quick when everything is already there: apt-get update runs
# only when a package or the kernel cannot be found without it.
#
# Env: LVSGEN_E2E_CACHE (default $HOME/.cache/lvsgen-e2e) must match what the
# tests use; the kernel .deb goes to $LVSGEN_E2E_CACHE/debs.
set -euo pipefail

cache="${LVSGEN_E2E_CACHE:-${HOME:-/root}/.cache/lvsgen-e2e}"
debs="$cache/debs"
pkgs=(qemu-system-x86 busybox-static ipvsadm kmod cpio iproute2 nftables keepalived bird2)
kernel_meta=linux-image-cloud-amd64

sudo=""
if [ "$(id -u)" != 0 ]; then
	sudo="sudo"
fi

updated=0
apt_update() {
	if [ "$updated" = 0 ]; then
		echo "e2e-deps: apt-get update"
		$sudo apt-get update -qq
		updated=1
	fi
}

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ "${#missing[@]}" -gt 0 ]; then
	echo "e2e-deps: installing ${missing[*]}"
	install() {
		$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
	}
	if ! install; then
		apt_update
		install
	fi
fi

# The kernel: the versioned package that the cloud meta-package depends on.
kernel_pkg() {
	apt-cache depends "$kernel_meta" 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -n1
}
kpkg="$(kernel_pkg || true)"
if [ -z "$kpkg" ]; then
	apt_update
	kpkg="$(kernel_pkg)"
fi
if [ -z "$kpkg" ]; then
	echo "e2e-deps: cannot resolve $kernel_meta to a kernel package" >&2
	exit 1
fi

mkdir -p "$debs"
if ! ls "$debs/${kpkg}_"*.deb >/dev/null 2>&1; then
	echo "e2e-deps: downloading $kpkg into $debs"
	tmp="$(mktemp -d)"
	trap 'rm -rf "$tmp"' EXIT
	chmod 755 "$tmp"
	if ! (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "$kpkg"); then
		apt_update
		(cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "$kpkg")
	fi
	# Keep one kernel: the harness boots the newest .deb it finds here.
	rm -f "$debs"/linux-image-*.deb
	mv "$tmp"/*.deb "$debs/"
fi
echo "e2e-deps: ok ($kpkg in $debs)"
