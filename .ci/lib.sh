# Sourced by test.sh and the scripts in .ci: what every script needs to know
# about the modules of this repository.

# NEXT is the version the next release will tag every module with (see
# RELEASING.md). Sub-modules may require it before it exists: in the
# workspace (go.work) the directory stands in for it, and the checks below
# serve the working tree at this version from a local module proxy.
NEXT=v0.1.0

# modules prints the directory of every module listed in go.work, relative
# to the root of the repository, in the order of go.work (the root first).
# It reads go.work itself, so that GOWORK=off in the environment does not
# hide the sub-modules.
modules() {
	go work edit -json go.work | sed -n 's#^.*"DiskPath": "\(.*\)".*$#\1#p' | sed 's#^\./##'
}

# local_proxy builds, in a new temporary directory, a module proxy that
# serves every module of the working tree at $NEXT, and exports the
# environment that makes the go command use it as a user's would: no
# workspace, a module cache of its own (so that nothing built from the
# working tree lands in the real one), and checksums of our own modules not
# looked up in the checksum database. Modules of others come from the real
# module cache when it has them, or else from the usual proxy.
#
# That module cache is kept between runs, at a path fixed for this checkout,
# so that the build cache recognises the packages of others (the build cache
# keys a package by its directory); our own modules are removed from it at
# every run, so they always come from the proxy just built (and the module
# index, which would remember their old contents, is off). It sets
# LOCAL_PROXY_TMP; call local_proxy_cleanup when done.
local_proxy() {
	local real_cache real_proxy
	real_cache=$(go env GOMODCACHE)
	real_proxy=$(go env GOPROXY)
	LOCAL_PROXY_TMP=$(mktemp -d)
	(cd .ci/modproxy && GOWORK=off go run . -repo ../.. -version "$NEXT" -out "$LOCAL_PROXY_TMP/proxy" >/dev/null)
	export GOWORK=off
	GOMODCACHE="${TMPDIR:-/tmp}/flightcache-ci-modcache-$(printf %s "$PWD" | cksum | cut -d' ' -f1)"
	export GOMODCACHE
	if [ -d "$GOMODCACHE" ]; then
		chmod -R u+w "$GOMODCACHE/github.com/flightcache" "$GOMODCACHE/cache/download/github.com/flightcache" 2>/dev/null || true
		rm -rf "$GOMODCACHE/github.com/flightcache" "$GOMODCACHE/cache/download/github.com/flightcache"
	fi
	export GONOSUMDB="github.com/flightcache"
	# The go command indexes the module cache on the promise that a
	# module@version never changes; ours do from run to run, so no index.
	export GODEBUG="${GODEBUG:+$GODEBUG,}goindex=0"
	export GOPROXY="file://$LOCAL_PROXY_TMP/proxy,file://$real_cache/cache/download,$real_proxy"
}

local_proxy_cleanup() {
	[ -n "${LOCAL_PROXY_TMP:-}" ] || return 0
	rm -rf "$LOCAL_PROXY_TMP"
}

# unreleased_sum matches the go.sum lines of our own modules at $NEXT: their
# hashes are those of the working tree, not of a release, so they are never
# committed before the release (RELEASING.md).
unreleased_sum() {
	printf '^github\\.com/flightcache/[^ ]* %s(/go\\.mod)? h1:' "${NEXT//./\\.}"
}
