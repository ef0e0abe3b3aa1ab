#!/usr/bin/env bash
# Builds the .deb with CPack from a build directory and checks what it holds.
#   check_deb.sh BUILD_DIR
# Exits 77 (skipped) when dpkg-deb or cpack is missing.
set -euo pipefail
build=$1
command -v dpkg-deb >/dev/null || { echo "SKIP: dpkg-deb not installed (apt-get install dpkg)"; exit 77; }
command -v cpack >/dev/null || { echo "SKIP: cpack not installed"; exit 77; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
(cd "$build" && cpack -G DEB -B "$out" >"$out/cpack.log" 2>&1) || { cat "$out/cpack.log"; exit 1; }
deb=$(ls "$out"/*.deb | head -1)
echo "built $(basename "$deb") ($(stat -c %s "$deb") bytes)"
contents=$(dpkg-deb -c "$deb")
info=$(dpkg-deb -I "$deb")
status=0
need() {
  if grep -q -- "$1" <<<"$contents"; then echo "ok: $1"; else echo "MISSING in package: $1"; status=1; fi
}
need ' ./usr/bin/aiond$'
need ' ./usr/bin/aion$'
need ' ./etc/aion/aion.toml$'
need ' ./lib/systemd/system/aiond.service$'
need ' ./usr/share/aion/'
need ' ./usr/share/bash-completion/completions/aion$'
need ' ./usr/share/doc/aion/README.md$'
for f in postinst postrm conffiles; do
  if dpkg-deb --info "$deb" "$f" >/dev/null 2>&1; then echo "ok: control $f"; else echo "MISSING control file $f"; status=1; fi
done
if dpkg-deb --info "$deb" conffiles | grep -qx '/etc/aion/aion.toml'; then echo "ok: aion.toml is a conffile"; else echo "aion.toml is not a conffile"; status=1; fi
if grep -q 'addgroup --system aion' <(dpkg-deb --info "$deb" postinst); then echo "ok: postinst creates the aion group"; else echo "postinst does not create the aion group"; status=1; fi
if grep -Eq '^ Depends:.*libsqlite3' <<<"$info"; then echo "ok: Depends computed ($(grep '^ Depends' <<<"$info" | cut -c1-120))"; else echo "Depends lacks libsqlite3: $(grep '^ Depends' <<<"$info")"; status=1; fi
if grep -q '^Type=notify' <(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./lib/systemd/system/aiond.service); then echo "ok: unit is Type=notify"; else echo "unit is not Type=notify"; status=1; fi
exit $status
