#!/usr/bin/env bash
# Builds the lvsgen .deb and .rpm (packaging/nfpm.yaml) and their
# SHA256SUMS into OUT (default dist/): `make package` runs it, and so does
# the package test (packaging/package_test.go) into a temporary directory.
#
# Version: from git describe. On a tag vX.Y.Z it is X.Y.Z; a commit after
# it is X.Y.Z+gitN.gSHA (N commits after the tag), which sorts after the
# tag in dpkg and rpm; with no tag at all 0.0.0+gitN.gSHA. A work tree
# with changes adds .dirty. LVSGEN_VERSION overrides it (a release tarball
# outside git). The binary reports the same version (lvsgen --version).
#
# Env: GO (default go), NFPM (default: nfpm's command, pinned, run with go
# run), SOURCE_DATE_EPOCH (default: the commit's time; dates the man pages).
set -euo pipefail
cd "$(dirname "$0")/.."

out="${1:-dist}"
GO="${GO:-go}"
# v2.48.0 builds with this Go (1.26); go run caches the build.
NFPM="${NFPM:-$GO run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0}"

pkg_version() {
	local desc tag rest n sha dirty=""
	desc="$(git describe --tags --long --dirty --match 'v[0-9]*' 2>/dev/null || true)"
	if [ -z "$desc" ]; then
		n="$(git rev-list --count HEAD)"
		sha="$(git rev-parse --short=12 HEAD)"
		git diff --quiet HEAD 2>/dev/null || dirty=".dirty"
		echo "0.0.0+git${n}.g${sha}${dirty}"
		return
	fi
	case "$desc" in *-dirty) dirty=".dirty"; desc="${desc%-dirty}" ;; esac
	# vX.Y.Z-N-gSHA
	sha="${desc##*-g}"
	rest="${desc%-g*}"
	n="${rest##*-}"
	tag="${rest%-*}"
	tag="${tag#v}"
	if [ "$n" = 0 ] && [ -z "$dirty" ]; then
		echo "$tag"
	else
		echo "${tag}+git${n}.g${sha}${dirty}"
	fi
}

version="${LVSGEN_VERSION:-$(pkg_version)}"
export LVSGEN_VERSION="$version"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

echo "package: lvsgen $version"
# Static (no cgo: nothing to link against on the balancer), with the
# version and commit set at link time: go's own VCS stamping misses a git
# worktree (.git is a file there), and a dirty tree shows in the version.
commit="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
CGO_ENABLED=0 "$GO" build -trimpath \
	-ldflags "-X github.com/lvsgen/lvsgen/internal/version.version=v${version} -X github.com/lvsgen/lvsgen/internal/version.commit=${commit}" \
	-o "$stage/lvsgen" ./cmd/lvsgen

mkdir -p "$stage/man" "$stage/completions"
"$stage/lvsgen" gen-man "$stage/man"
# Compressed, as Debian policy and rpm's brp scripts do; -n keeps the
# archives free of timestamps.
gzip -9n "$stage"/man/*.1
for sh in bash zsh fish; do
	"$stage/lvsgen" completion "$sh" >"$stage/completions/lvsgen.$sh"
done

cp -r deploy README.md LICENSE CONTRIBUTING.md packaging/nfpm.yaml packaging/scripts "$stage/"
mkdir -p "$stage/docs"
cp docs/*.md "$stage/docs/"

# Every file dated by the commit, as nfpm dates the archives' own
# headers (SOURCE_DATE_EPOCH): one commit builds the same packages.
find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

mkdir -p "$out"
out="$(cd "$out" && pwd)"
rm -f "$out"/lvsgen_*.deb "$out"/lvsgen-*.rpm "$out/SHA256SUMS"
for p in deb rpm; do
	(cd "$stage" && $NFPM package --config nfpm.yaml --packager "$p" --target "$out/")
done
(cd "$out" && sha256sum lvsgen_*.deb lvsgen-*.rpm >SHA256SUMS)
echo "package: $(cd "$out" && ls lvsgen_*.deb lvsgen-*.rpm SHA256SUMS | tr '\n' ' ')in $out"
