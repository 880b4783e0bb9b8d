#!/usr/bin/env bash
# Install Trạm Một Cửa on Debian 12 / Raspberry Pi OS, as root. Safe to run again (idempotent).
# For development and image trees from a checkout; releases ship as scripts/build-deb's package.
#
#   scripts/install.sh [--role edge|hub] [--source DIR|WHEEL] [--provisioning-pub FILE]
#                      [--root DIR] [--no-apt] [--no-venv] [--no-enable]
#
#   --role edge   (default) a box: motcua-firstboot, motcua-enroll, motcua-edge; udev + polkit rules
#   --role hub    the city hub host: motcua-hub
#   --source      what pip installs into /opt/motcua/venv (default: this checkout)
#   --provisioning-pub  the provisioning public key the box trusts -> /etc/motcua/provisioning.pub
#   --root DIR    install into an image tree mounted at DIR (Pi image building): no apt, no venv
#                 build (give --no-venv or build the venv inside the image), units enabled offline
#   --no-apt / --no-venv / --no-enable  skip those parts
#
# What goes where (docs/deploy.md):
#   /opt/motcua/venv                       the app in its own virtual environment
#   /etc/systemd/system/motcua-*.service   the units
#   /usr/lib/sysusers.d/motcua.conf        users motcua, motcua-hub
#   /usr/lib/tmpfiles.d/motcua.conf        /var/lib/motcua (0700), /etc/motcua
#   /etc/udev/rules.d/70-motcua.rules      scanners, QR scanners, card readers -> group motcua
#   /etc/polkit-1/rules.d/50-motcua-pcscd.rules  user motcua may use pcscd
#   /etc/cups/cupsd.conf                   (if cupsd is installed) PreserveJobFiles/JobHistory No
set -euo pipefail

SRC_DIR="$(cd "$(dirname "$0")/.." && pwd)"
ROLE=edge
SOURCE="$SRC_DIR"
PUB=""
ROOT=""
DO_APT=1
DO_VENV=1
DO_ENABLE=1

while (($#)); do
  case "$1" in
    --role) ROLE="$2"; shift 2 ;;
    --source) SOURCE="$2"; shift 2 ;;
    --provisioning-pub) PUB="$2"; shift 2 ;;
    --root) ROOT="$(cd "$2" && pwd)"; DO_APT=0; shift 2 ;;
    --no-apt) DO_APT=0; shift ;;
    --no-venv) DO_VENV=0; shift ;;
    --no-enable) DO_ENABLE=0; shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$ROLE" in edge|hub) ;; *) echo "install.sh: --role must be edge or hub" >&2; exit 2 ;; esac
if [ "$(id -u)" -ne 0 ]; then echo "install.sh: run as root" >&2; exit 1; fi
if [ -n "$PUB" ] && [ ! -f "$PUB" ]; then echo "install.sh: $PUB does not exist" >&2; exit 2; fi

PREFIX="$ROOT/opt/motcua"
say() { echo "install.sh: $*"; }

# Copy a file only when it differs; print what changed.
put() {  # put MODE SRC DEST
  local mode="$1" src="$2" dest="$3"
  if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
    chmod "$mode" "$dest"
    return 0
  fi
  install -D -m "$mode" "$src" "$dest"
  say "installed $dest"
}

# 1. Debian packages the app needs at run time (and to build pyscard when no wheel fits).
if ((DO_APT)); then
  if [ "$ROLE" = edge ]; then
    PKGS=(python3 python3-venv python3-dev gcc swig libpcsclite-dev pcscd sane-utils libsane1 fonts-dejavu-core fonts-dejavu-extra cups-client systemd-timesyncd)
  else
    PKGS=(python3 python3-venv python3-dev gcc fonts-dejavu-core)
  fi
  missing=()
  for pkg in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    say "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

# 2. The app in its own venv.
if ((DO_VENV)); then
  if [ ! -x "$PREFIX/venv/bin/python" ]; then
    say "creating $PREFIX/venv"
    python3 -m venv "$PREFIX/venv"
  fi
  "$PREFIX/venv/bin/pip" install --quiet --upgrade pip
  "$PREFIX/venv/bin/pip" install --quiet --upgrade "$SOURCE"
  say "motcua $("$PREFIX/venv/bin/motcua" --version 2>/dev/null | awk '{print $NF}') in $PREFIX/venv"
fi
put 0644 "$SRC_DIR/docs/deploy.md" "$PREFIX/share/doc/deploy.md"

# 3. Users and directories.
put 0644 "$SRC_DIR/systemd/sysusers.d/motcua.conf" "$ROOT/usr/lib/sysusers.d/motcua.conf"
put 0644 "$SRC_DIR/systemd/tmpfiles.d/motcua.conf" "$ROOT/usr/lib/tmpfiles.d/motcua.conf"
if [ -n "$ROOT" ]; then
  # With --root, file arguments are not found reliably: feed the contents on stdin.
  systemd-sysusers --root="$ROOT" - < "$SRC_DIR/systemd/sysusers.d/motcua.conf"
  systemd-tmpfiles --root="$ROOT" --create - < "$SRC_DIR/systemd/tmpfiles.d/motcua.conf"
else
  systemd-sysusers /usr/lib/sysusers.d/motcua.conf
  systemd-tmpfiles --create /usr/lib/tmpfiles.d/motcua.conf
fi

# 4. Units, and for a box the device rules.
if [ "$ROLE" = edge ]; then
  UNITS=(motcua-firstboot.service motcua-enroll.service motcua-edge.service)
  for rules in "$SRC_DIR"/systemd/udev/*.rules; do
    [ -e "$rules" ] && put 0644 "$rules" "$ROOT/etc/udev/rules.d/$(basename "$rules")"
  done
  for rules in "$SRC_DIR"/systemd/polkit/*.rules; do
    [ -e "$rules" ] && put 0644 "$rules" "$ROOT/etc/polkit-1/rules.d/$(basename "$rules")"
  done
  if [ -n "$PUB" ]; then
    put 0644 "$PUB" "$ROOT/etc/motcua/provisioning.pub"
  fi
  [ -f "$ROOT/etc/motcua/provisioning.pub" ] || say "WARNING: no /etc/motcua/provisioning.pub: first boot will refuse every bundle (give --provisioning-pub)"
else
  UNITS=(motcua-hub.service)
fi

# 4b. CUPS, when cupsd is on the box: receipts hold personal data, so cupsd keeps no job files
#     and no job history (docs/deploy.md, "Printing"). Our block is rewritten in place; any other
#     PreserveJobFiles/PreserveJobHistory line is commented out. Owner and mode stay as they are.
CUPSD_CONF="$ROOT/etc/cups/cupsd.conf"
if [ "$ROLE" = edge ] && [ -f "$CUPSD_CONF" ]; then
  cups_tmp="$(mktemp)"
  awk '
    $0 == "# motcua: keep no print jobs (docs/deploy.md)" { skip = 1; next }
    skip && $0 == "# motcua: end" { skip = 0; next }
    skip { next }
    /^[[:space:]]*(PreserveJobFiles|PreserveJobHistory)([[:space:]]|$)/ { print "# (motcua) " $0; next }
    { print }
  ' "$CUPSD_CONF" > "$cups_tmp"
  printf '%s\n' "# motcua: keep no print jobs (docs/deploy.md)" "PreserveJobFiles No" "PreserveJobHistory No" \
    "# motcua: end" >> "$cups_tmp"
  if cmp -s "$cups_tmp" "$CUPSD_CONF"; then
    rm -f "$cups_tmp"
  else
    cat "$cups_tmp" > "$CUPSD_CONF"   # in place: cupsd.conf keeps its owner and mode
    rm -f "$cups_tmp"
    say "cupsd: PreserveJobFiles No, PreserveJobHistory No in $CUPSD_CONF"
    if [ -z "$ROOT" ] && [ -d /run/systemd/system ]; then
      systemctl try-restart cups.service || true
    fi
  fi
fi
for unit in "${UNITS[@]}"; do
  put 0644 "$SRC_DIR/systemd/$unit" "$ROOT/etc/systemd/system/$unit"
done

# 5. Enable (offline for an image tree; live when systemd runs).
if ((DO_ENABLE)); then
  if [ -n "$ROOT" ]; then
    systemctl --root="$ROOT" enable "${UNITS[@]}" >/dev/null 2>&1 || systemctl --root="$ROOT" enable "${UNITS[@]}"
  elif [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    if [ "$ROLE" = edge ]; then
      udevadm control --reload && udevadm trigger --action=change || true
      systemctl enable systemd-timesyncd.service || true
    fi
    systemctl enable "${UNITS[@]}"
  else
    say "systemd is not running: units installed, not enabled"
  fi
fi
say "done ($ROLE)"
