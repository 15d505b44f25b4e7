#!/bin/sh
# /init of the lvsgen e2e VM. Written by e2e/vm; runs under busybox sh.
# It mounts the pseudo file systems, loads the kernel modules, runs each
# guest test binary listed in /e2e/tests, prints the result marker the host
# waits for, and powers off. /e2e/run.conf holds this run's settings.
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
export HOME=/root TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
echo 0 >/proc/sys/kernel/printk_ratelimit 2>/dev/null
. /e2e/run.conf

echo "e2e: kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) cpu(s), $(awk '/MemTotal/ {print $2 / 1024 " MiB"}' /proc/meminfo)"
failed_mods=""
for m in $(cat /e2e/modules); do
	modprobe "$m" || failed_mods="$failed_mods $m"
done
if [ -n "$failed_mods" ]; then
	echo "e2e: failed to load modules:$failed_mods"
fi
ip link set lo up
echo "e2e: ready in $(cut -d' ' -f1 /proc/uptime)s"

status=0
if [ "$E2E_TESTS" = 1 ]; then
	[ -n "$failed_mods" ] && status=1
	while read -r name dir skip; do
		[ -n "$name" ] || continue
		echo "e2e: === guest package $name (cwd $dir)"
		set -- -test.timeout="$E2E_TEST_TIMEOUT"
		[ "$E2E_VERBOSE" = 1 ] && set -- "$@" -test.v
		[ -n "$E2E_RUN" ] && set -- "$@" -test.run="$E2E_RUN"
		[ -n "$E2E_BENCH" ] && set -- "$@" -test.bench="$E2E_BENCH" -test.benchtime=1x
		# Tests of files without the e2eguest tag ran on the host already.
		[ -n "$skip" ] && set -- "$@" -test.skip="$skip"
		mkdir -p "$dir"
		(cd "$dir" && exec "/e2e/bin/$name" "$@")
		rc=$?
		echo "e2e: === guest package $name exit=$rc"
		[ "$rc" = 0 ] || status=$rc
	done </e2e/tests
fi
echo "LVSGEN-E2E-RESULT $E2E_NONCE status=$status"

if [ "$E2E_SHELL" = 1 ]; then
	echo "e2e: interactive shell; 'exit' or Ctrl-D powers off (Ctrl-A x kills qemu)"
	echo "e2e: guest tests are in /e2e/bin; named namespaces: ip netns"
	setsid cttyhack sh -l
fi
sync
poweroff -f
