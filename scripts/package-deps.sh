#!/usr/bin/env bash
# Installs what `make package` and its test (packaging/) need beyond Go:
# rpm, to read the .rpm back, and systemd for systemd-analyze (a Debian
# container has none; dpkg and dpkg-deb come with Debian and Ubuntu), and
# builds nfpm's pinned command once, so that the test's `go run` does not
# spend its time budget compiling it.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
if [ "$(id -u)" != 0 ]; then
	sudo="sudo"
fi
missing=()
command -v rpm >/dev/null || missing+=(rpm)
command -v systemd-analyze >/dev/null || missing+=(systemd)
if [ "${#missing[@]}" -gt 0 ]; then
	echo "package-deps: installing ${missing[*]}"
	install() { $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; }
	if ! install; then
		$sudo apt-get update -qq
		install
	fi
fi
# The version is scripts/package.sh's.
nfpm="$(sed -n 's/^NFPM=.*\(github.com\/goreleaser\/nfpm\/v2\/cmd\/nfpm@v[0-9.]*\).*/\1/p' scripts/package.sh)"
go run "$nfpm" --version >/dev/null
echo "package-deps: ok (rpm, $nfpm)"
