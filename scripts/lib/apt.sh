# Sourced by the install scripts that need Debian packages (install-redis.sh,
# install-chromium.sh). Defines:
#   need_root <who> <what>   makes run_root work: root runs commands directly,
#                            others through sudo; exits 1 with a message
#                            "<who>: must run as root ... to <what>" otherwise
#   run_root <command>...    the command as root (after need_root)
#   apt_install <who> <package>...
#                            apt-get update + install --no-install-recommends
#                            as root, waiting up to 5 min for the dpkg lock
# Callers check for apt-get themselves first, since only they know what to
# tell a user on a machine without it.

as_root=()

need_root() {
  local who="$1" what="$2"
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      as_root=(sudo)
      echo "$who: not root; using sudo"
    else
      echo "$who: must run as root (or with sudo available) to $what" >&2
      exit 1
    fi
  fi
}

run_root() { "${as_root[@]}" "$@"; }

apt_install() {
  local who="$1"
  shift
  need_root "$who" "apt-get install $*"
  local apt_opts=(-o DPkg::Lock::Timeout=300)
  echo "+ apt-get update"
  run_root apt-get "${apt_opts[@]}" update -qq
  echo "+ apt-get install -y --no-install-recommends $*"
  run_root env DEBIAN_FRONTEND=noninteractive \
    apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "$@"
}
