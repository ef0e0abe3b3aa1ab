#!/usr/bin/env bash
# Builds the .deb with CPack from a configured and built build directory, into a temporary
# directory, and checks what it holds: programs, config as a conffile, systemd unit, data,
# completion, maintainer scripts, computed Depends; the unit passes `systemd-analyze verify`
# and the packaged config lists exactly the keys `aiond --print-default-config` knows.
#   check_deb.sh BUILD_DIR
# Exits 77 (ctest: skipped) when dpkg-deb or cpack is missing.
set -euo pipefail
build=${1:?usage: check_deb.sh BUILD_DIR}
command -v dpkg-deb >/dev/null || { echo "SKIP: dpkg-deb not installed (apt-get install dpkg)"; exit 77; }
command -v cpack >/dev/null || { echo "SKIP: cpack not installed (apt-get install cmake)"; exit 77; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if ! (cd "$build" && cpack -G DEB -B "$out") >"$out/cpack.log" 2>&1; then
  echo "cpack failed:"
  cat "$out/cpack.log"
  exit 1
fi
debs=("$out"/*.deb)
deb=${debs[0]}
echo "built $(basename "$deb") ($(stat -c %s "$deb") bytes)"
contents=$(dpkg-deb -c "$deb")
info=$(dpkg-deb -I "$deb")
root=$out/root
dpkg-deb -x "$deb" "$root"

status=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; status=1; }
# has_path REGEX [LABEL]: a line of `dpkg-deb -c` ends in ./REGEX.
has_path() {
  if grep -Eq -- " \./$1\$" <<<"$contents"; then ok "holds ${2:-$1}"; else bad "package lacks ${2:-$1}"; fi
}

has_path 'usr/bin/aiond'
has_path 'usr/lib/aion/aion-shim'
has_path 'usr/lib/aion/aion-k8s-device-plugin'
has_path 'usr/bin/aion'
has_path 'etc/aion/aion.toml'
has_path 'lib/systemd/system/aiond.service'
has_path 'usr/share/aion/[^/]+[^/]' 'a data file in usr/share/aion/'
has_path 'usr/share/aion/profiles/ai-training\.toml' 'the shipped tuning profiles'
has_path 'usr/share/aion/tune/kernel_ranges\.toml' 'the kernel ranges tuning validates against'
has_path 'usr/share/bash-completion/completions/aion'
has_path 'usr/share/doc/aion/README.md'
has_path 'usr/share/doc/aion/copilot\.md' 'the manuals aion ask indexes'

for f in conffiles postinst prerm postrm; do
  if dpkg-deb --info "$deb" "$f" >/dev/null 2>&1; then ok "control file $f"; else bad "no control file $f"; fi
done
if dpkg-deb --info "$deb" conffiles | grep -qx '/etc/aion/aion.toml'; then
  ok "/etc/aion/aion.toml is a conffile"
else
  bad "/etc/aion/aion.toml is not listed in conffiles"
fi
if dpkg-deb --info "$deb" postinst | grep -q 'addgroup --system aion'; then
  ok "postinst creates the aion group"
else
  bad "postinst does not create the aion group"
fi
depends=$(sed -n 's/^ Depends: //p' <<<"$info")
if [[ $depends == *libsqlite3* && $depends == *libc6* && $depends == *adduser* ]]; then
  ok "Depends computed: $depends"
else
  bad "Depends lacks libc6, libsqlite3 or adduser: '$depends'"
fi
version=$(sed -n 's/^ Version: //p' <<<"$info")
if [ "$("$root/usr/bin/aion" version 2>/dev/null | grep -c -- "$version")" -ge 1 ]; then
  ok "version $version matches aion version"
else
  bad "package version '$version' not in: $("$root/usr/bin/aion" version 2>&1 | head -1)"
fi

unit=$root/lib/systemd/system/aiond.service
for line in Type=notify NotifyAccess=main 'ExecStart=/usr/bin/aiond --foreground' WatchdogSec=30s \
  Restart=on-failure RuntimeDirectory=aion StateDirectory=aion; do
  if grep -qx -- "$line" "$unit"; then ok "unit: $line"; else bad "unit lacks $line"; fi
done
# verify resolves ExecStart, so point it at the packaged programs.
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$out/unit"
  sed "s#/usr/bin/aiond#$root/usr/bin/aiond#g" "$unit" >"$out/unit/aiond.service"
  if verify=$(systemd-analyze verify "$out/unit/aiond.service" 2>&1) && [ -z "$verify" ]; then
    ok "systemd-analyze verify: clean"
  else
    bad "systemd-analyze verify: $verify"
  fi
else
  echo "note: systemd-analyze not installed; unit syntax not verified"
fi

# The manifest: `aion guard verify` finds every packaged program and data file unchanged, and
# notices a data file changed after installation.
has_path 'usr/lib/aion/manifest\.sha256' 'the package manifest'
if verify=$("$root/usr/bin/aion" guard verify --root "$root" 2>&1); then
  ok "aion guard verify: $(tail -1 <<<"$verify")"
else
  bad "aion guard verify on the unpacked package: $verify"
fi
echo '# changed' >>"$root/usr/share/aion/guard/profiles.toml"
if verify=$("$root/usr/bin/aion" guard verify --root "$root" 2>&1); then
  bad "aion guard verify missed a changed data file: $verify"
elif grep -q 'usr/share/aion/guard/profiles.toml  *modified' <<<"$verify"; then
  ok "aion guard verify names a changed data file"
else
  bad "aion guard verify failed without naming the changed file: $verify"
fi

# The packaged config documents every key the daemon knows, and only those.
keys() { grep -E '^(\[|#[a-z_]+ = )' | sed 's/ = .*//'; }
if diff <("$root/usr/bin/aiond" --print-default-config | keys) \
  <(keys <"$root/etc/aion/aion.toml") >"$out/keys.diff"; then
  ok "aion.toml lists the keys of aiond --print-default-config"
else
  bad "packaging/aion.toml and aiond --print-default-config differ (< daemon, > aion.toml):"
  cat "$out/keys.diff"
  echo "  update packaging/aion.toml: keep its 3 header lines, then the output of" \
    "aiond --print-default-config | tail -n +2"
fi
exit $status
