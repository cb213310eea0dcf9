# Sourced by the scripts that build pinned Go commands into .tools/bin
# (install-grpcurl.sh, install-codegen-tools.sh).
#   go_install <who> <bin_dir> <package@version> [ldflags]
#     `go install` through the Go module proxy (checksums verified against
#     sum.golang.org), static (CGO_ENABLED=0), into <bin_dir>; exits 1 with a
#     message starting "<who>:" when Go is not on PATH.

go_install() {
  local who="$1" bin_dir="$2" pkg="$3" ldflags="${4:-}"
  if ! command -v go >/dev/null 2>&1; then
    echo "$who: Go is required to build $pkg (https://go.dev/dl/)" >&2
    exit 1
  fi
  echo "installing $pkg into $bin_dir (go install, $(go version | cut -d' ' -f3))"
  mkdir -p "$bin_dir"
  GOBIN="$bin_dir" CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -buildvcs=false" \
    go install ${ldflags:+-ldflags "$ldflags"} "$pkg"
}
