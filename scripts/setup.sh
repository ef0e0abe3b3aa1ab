#!/usr/bin/env bash
# Installs aion's build and test dependencies from Debian packages (idempotent,
# non-interactive), then configures and builds the release preset.
#   scripts/setup.sh             install what is missing, build release
#   scripts/setup.sh --no-build  only install
set -euo pipefail
cd "$(dirname "$0")/.."

# One list: later capabilities add their packages here.
PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache git
  libsqlite3-dev sqlite3 libspdlog-dev libfmt-dev libtomlplusplus-dev libcli11-dev
  nlohmann-json3-dev libboost-dev libsystemd-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libhwloc-dev libpci-dev pciutils
  clang-format dpkg-dev file python3 util-linux
)

build=1
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
  SUDO=()
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then SUDO=(sudo); else
      echo "setup: need root to install packages (no sudo found); run as root or install: ${missing[*]}" >&2
      exit 1
    fi
  fi
  log=$(mktemp /tmp/aion-setup-apt.XXXXXX.log)
  export DEBIAN_FRONTEND=noninteractive
  if ! { "${SUDO[@]}" apt-get update -q && "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    echo "setup: apt-get failed; last lines of $log:" >&2
    tail -20 "$log" >&2
    exit 1
  fi
  rm -f "$log"
else
  echo "setup: all ${#PACKAGES[@]} Debian packages present"
fi

export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
if ((build)); then
  echo "setup: building the release preset (build/release)"
  cmake --preset release >/dev/null
  cmake --build --preset release -j "$(nproc)"
fi
