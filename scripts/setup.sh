#!/usr/bin/env bash
# Installs aion's build and test dependencies from Debian 12 packages (idempotent,
# non-interactive: apt runs only when a package is missing), then configures and builds the
# release preset into build/release.
#   scripts/setup.sh             install what is missing, build release
#   scripts/setup.sh --no-build  only install
# Environment: AION_JOBS (parallel compile jobs, default: nproc), CCACHE_DIR (default
# ~/.cache/ccache).
set -euo pipefail
cd "$(dirname "$0")/.."

# The one list of Debian packages; later capabilities add theirs here.
PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache git lld
  libsqlite3-dev sqlite3 libspdlog-dev libfmt-dev libtomlplusplus-dev libcli11-dev
  nlohmann-json3-dev libboost-dev libsystemd-dev libssl-dev libre2-dev zlib1g-dev libxapian-dev libedit-dev
  libseccomp-dev libbpf-dev clang libxxhash-dev liblinear-tools
  libgtest-dev libgmock-dev libbenchmark-dev
  libhwloc-dev libpci-dev pciutils
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  prometheus
  slurmctld slurmd slurm-client munge
  clang-format dpkg-dev file python3 util-linux openssl iproute2
  systemd-journal-remote
  chromium nodejs fonts-wqy-microhei
)
# npm comes with the nodejs of NodeSource; Debian's own nodejs needs its npm package.
command -v npm >/dev/null || PACKAGES+=(npm)

build=1
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    -h | --help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#PACKAGES[@]} Debian packages present"
else
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
  if ! command -v apt-get >/dev/null; then
    echo "setup: apt-get not found; aion builds on Debian 12 (bookworm). Install: ${missing[*]}" >&2
    exit 1
  fi
  sudo=()
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then
      sudo=(sudo)
    else
      echo "setup: installing packages needs root and sudo is not installed;" \
        "run this script as root once, or: apt-get install ${missing[*]}" >&2
      exit 1
    fi
  fi
  log_dir=${XDG_CACHE_HOME:-$HOME/.cache}/aion
  mkdir -p "$log_dir"
  log=$log_dir/setup-apt.log
  # Wait for a concurrent apt/dpkg instead of failing on its lock.
  apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=600)
  echo "setup: apt-get update && apt-get install (output in $log)"
  if ! { "${apt[@]}" update && "${apt[@]}" install --no-install-recommends "${missing[@]}"; } \
    >"$log" 2>&1; then
    echo "setup: apt-get failed; the last lines of $log:" >&2
    tail -n 25 "$log" >&2
    exit 1
  fi
  echo "setup: installed ${missing[*]}"
fi

# The browser tests' npm packages (puppeteer-core: drives Debian's chromium), pinned by
# tests/web/package-lock.json; nothing is fetched when they are already there.
if [ -f tests/web/package-lock.json ] &&
  ! cmp -s tests/web/package-lock.json tests/web/node_modules/.aion-installed-lock 2>/dev/null; then
  echo "setup: npm ci in tests/web (browser test packages)"
  (cd tests/web && npm ci --no-audit --no-fund --loglevel=error &&
    cp package-lock.json node_modules/.aion-installed-lock)
fi

((build)) || exit 0

export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
jobs=${AION_JOBS:-$(nproc)}
echo "setup: building the release preset into build/release (-j$jobs, ccache in $CCACHE_DIR)"
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs"
echo "setup: built build/release/bin/aiond and build/release/bin/aion"
