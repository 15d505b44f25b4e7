#!/bin/sh
# After install or upgrade (dpkg: configure; rpm: 1 or 2). The unit is
# not enabled: /etc/default/lvsgen-watch names the config and host first.
# An upgrade restarts a running watch on the new binary: watch finishes
# the apply in flight on SIGTERM, and the new one re-plans the same config,
# so the kernel is not touched unless it had drifted.
set -e
# Only when systemd runs this root: not in a chroot or image build, nor
# under dpkg --root (DPKG_ROOT), where the host's systemd is not ours.
if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
	systemctl try-restart lvsgen-watch.service >/dev/null 2>&1 || true
fi
exit 0
