#!/bin/bash
# The container half of the end-to-end test of deploy/debian (run by deploy/test/e2e.py, which
# holds the fakes; see deploy/README.md). As root on a Debian host with debootstrap and
# systemd-container:
#   e2e.sh up SETTINGS   a fresh Debian 12 (minbase) in $ROOT, booted with systemd-nspawn --boot
#                        on the host's network; deploy/debian/install.sh run in it twice (the
#                        second time with SETTINGS, NAME=value lines, added to mitrabot.env)
#   e2e.sh boot          boot the container of the last run again (for a look)
#   e2e.sh exec CMD...   run a command inside the booted container
#   e2e.sh down          power the container off (the folder stays for a look: $ROOT)
# The debootstrapped tree is cached as a tarball in $CACHE and the .debs beside it, so a second
# run downloads only what pip installs.
set -euo pipefail

ROOT=${MITRABOT_E2E_ROOT:-/var/tmp/mitrabot-e2e/root}
CACHE=${MITRABOT_E2E_CACHE:-/var/cache/mitrabot-e2e}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
LOG=$ROOT.boot.log
MIRROR=http://deb.debian.org/debian

leader() { cat "$ROOT.leader" 2>/dev/null; }

in_container() {
    nsenter --target "$(leader)" --mount --uts --ipc --net --pid -- \
        env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
        LANG=C.UTF-8 "$@"
}

fresh_rootfs() {
    mkdir -p "$CACHE/apt/partial"
    if [ ! -s "$CACHE/bookworm-minbase.tar.gz" ]; then
        echo "== debootstrap bookworm (minbase) into a cache"
        rm -rf "$ROOT.base"
        debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,ca-certificates \
            bookworm "$ROOT.base" "$MIRROR"
        tar -C "$ROOT.base" -czf "$CACHE/bookworm-minbase.tar.gz.new" .
        mv "$CACHE/bookworm-minbase.tar.gz.new" "$CACHE/bookworm-minbase.tar.gz"
        rm -rf "$ROOT.base"
    fi
    echo "== fresh root in $ROOT"
    rm -rf "$ROOT"
    mkdir -p "$ROOT"
    tar -C "$ROOT" -xzf "$CACHE/bookworm-minbase.tar.gz"
    echo mitrabot-e2e >"$ROOT/etc/hostname"
    # A network that intercepts TLS (as this test's own sandbox does): trust this host's local
    # CA certificates in the container too, for apt, pip and Caddy alike.
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
        cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
        printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$ROOT/etc/pip.conf"
    fi
    # The project checkout, as an IT person would have cloned it (tracked and new files only).
    mkdir -p "$ROOT/root/mitrabot"
    (cd "$SRC" && git ls-files -z --cached --others --exclude-standard |
        tar --null -T - -cf -) | tar -C "$ROOT/root/mitrabot" -xf -
}

boot() {
    echo "== boot (systemd-nspawn --boot, host network)"
    systemd-nspawn --quiet --directory="$ROOT" --register=no --keep-unit --boot \
        --bind="$CACHE/apt:/var/cache/apt/archives" \
        </dev/null >"$LOG" 2>&1 &
    local nspawn=$! child=""
    # The container's init: the child of systemd-nspawn that runs systemd (nspawn forks a
    # short-lived helper first).
    for _ in $(seq 1 100); do
        child=$(pgrep -P "$nspawn" -x systemd || true)
        [ -n "$child" ] && break
        sleep 0.1
    done
    [ -n "$child" ] || { cat "$LOG"; echo "e2e.sh: nspawn did not start" >&2; exit 1; }
    echo "$child" >"$ROOT.leader"
    local state=""
    for _ in $(seq 1 360); do
        state=$(in_container systemctl is-system-running 2>/dev/null || true)
        case $state in running | degraded) echo "booted: $state"; return ;; esac
        sleep 0.5
    done
    cat "$LOG"
    in_container systemctl list-jobs --no-pager || true
    echo "e2e.sh: the container did not boot within 3 minutes (state: $state)" >&2
    exit 1
}

install_twice() {
    local settings=$1
    in_container update-ca-certificates >/dev/null
    echo "== install.sh (first run: no tokens yet)"
    in_container sh -c 'cd /root/mitrabot && DOMAIN=localhost deploy/debian/install.sh'
    echo "== settings for the fakes into /etc/mitrabot/mitrabot.env"
    local env_file=$ROOT/etc/mitrabot/mitrabot.env names
    names=$(sed -n 's/^\([A-Z0-9_]*\)=.*/\1/p' "$settings" | paste -sd'|')
    grep -Ev "^($names)=" "$env_file" >"$env_file.new" || true
    cat "$settings" >>"$env_file.new"
    cat "$env_file.new" >"$env_file"
    rm "$env_file.new"
    echo "== install.sh (second run: updates in place, starts the services)"
    in_container sh -c 'cd /root/mitrabot && deploy/debian/install.sh'
}

down() {
    local pid parent
    pid=$(leader || true)
    # Only our container's init: a child of systemd-nspawn --directory=$ROOT (the pid of an old
    # run may have been reused since).
    [ -n "$pid" ] && [ -r "/proc/$pid/status" ] || return 0
    parent=$(awk '$1 == "PPid:" { print $2 }' "/proc/$pid/status")
    case $(tr '\0' ' ' <"/proc/$parent/cmdline" 2>/dev/null) in
        *systemd-nspawn*--directory="$ROOT "*) ;;
        *) return 0 ;;
    esac
    echo "== power off"
    in_container systemctl poweroff || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
}

case ${1:-} in
    up)
        [ $# -eq 2 ] || { echo "usage: e2e.sh up SETTINGS" >&2; exit 2; }
        down
        fresh_rootfs
        boot
        install_twice "$2"
        ;;
    boot) down; boot ;;
    exec) shift; in_container "$@" ;;
    down) down ;;
    *) echo "usage: e2e.sh up SETTINGS | boot | exec CMD... | down" >&2; exit 2 ;;
esac
