#!/usr/bin/env bash
# Checks the hardening of the systemd unit offline: `systemd-analyze verify` is clean and
# `systemd-analyze security --offline=true` rates it at or below the bound below, with every
# sandbox setting SECURITY.md ("Systemd hardening") documents still in place. A change that
# loosens the unit must lower nothing here silently: raise the bound only together with the
# reasoning in SECURITY.md.
#   check_unit.sh UNIT_FILE [AIOND_BINARY]
# Exits 77 (ctest: skipped) when systemd-analyze is missing.
set -euo pipefail
unit=${1:?usage: check_unit.sh UNIT_FILE [AIOND_BINARY]}
aiond=${2:-}
# The exposure score of the hardened unit (systemd 252; lower is safer, 10 is unsandboxed).
max_exposure=8.1

command -v systemd-analyze >/dev/null ||
  { echo "SKIP: systemd-analyze not installed (apt-get install systemd)"; exit 77; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
copy=$out/aiond.service
if [ -n "$aiond" ] && [ -x "$aiond" ]; then
  sed "s#/usr/bin/aiond#$aiond#g" "$unit" >"$copy"
else
  cp "$unit" "$copy"
fi

status=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; status=1; }

if [ -n "$aiond" ] && [ -x "$aiond" ]; then
  if verify=$(cd "$out" && systemd-analyze verify ./aiond.service 2>&1) && [ -z "$verify" ]; then
    ok "systemd-analyze verify: clean"
  else
    bad "systemd-analyze verify: $verify"
  fi
else
  echo "note: no aiond binary given; systemd-analyze verify skipped"
fi

report=$(cd "$out" && systemd-analyze security --offline=true ./aiond.service 2>&1) || true
score=$(sed -n 's/.*Overall exposure level for aiond.service: \([0-9.]*\).*/\1/p' <<<"$report")
if [ -z "$score" ]; then
  bad "systemd-analyze security printed no exposure level:"
  echo "$report"
elif awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s <= m) }'; then
  ok "exposure $score (bound $max_exposure)"
else
  bad "exposure $score is above $max_exposure: the unit lost hardening"
  echo "$report"
fi

# The settings themselves, so that trading one for another shows up too.
for line in ProtectSystem=full PrivateMounts=yes SystemCallArchitectures=native \
  'SystemCallFilter=~@reboot @swap @clock @raw-io @obsolete @cpu-emulation' \
  SystemCallErrorNumber=EPERM 'CapabilityBoundingSet=~CAP_SYS_BOOT' \
  'ReadWritePaths=-/etc/sysctl.d -/etc/tmpfiles.d' Delegate=yes KillMode=process; do
  if grep -q -- "^$line" "$unit"; then ok "$line"; else bad "the unit lacks $line"; fi
done
# Settings that would break the daemon or its jobs (SECURITY.md says why for each).
for key in ProtectHome PrivateTmp PrivateDevices DevicePolicy DeviceAllow NoNewPrivileges \
  RestrictNamespaces MemoryDenyWriteExecute ProtectKernelLogs ProtectControlGroups \
  ProtectKernelTunables ProtectClock PrivateNetwork User DynamicUser; do
  if grep -q "^$key=" "$unit"; then bad "$key= is set: it breaks aiond or its jobs"; fi
done
[ $status = 0 ] && ok "no setting that breaks jobs"
exit $status
