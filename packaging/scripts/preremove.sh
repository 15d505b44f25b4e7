#!/bin/sh
# Before removal (dpkg: remove; rpm: 0), not before an upgrade: stop
# watch. The kernel keeps its IPVS table; /var/lib/lvsgen stays.
set -e
case "${1:-}" in
remove | 0)
	if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
		systemctl disable --now lvsgen-watch.service lvsgen-git-pull.timer >/dev/null 2>&1 || true
	fi
	;;
esac
exit 0
