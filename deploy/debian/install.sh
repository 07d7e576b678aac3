#!/bin/sh
# Install, or update, mitrabot on one Debian 12 server: Debian packages, the user mitrabot, the
# code in /opt/mitrabot/venv, /etc/mitrabot/mitrabot.env, the PostgreSQL role and database, the
# schema, Caddy (https) and the systemd units. Safe to run again (after `git pull`: it keeps the
# settings and the data, installs the new code, upgrades the schema and restarts).
#
#   sudo DOMAIN=bot.example.go.id deploy/debian/install.sh
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
domain=${DOMAIN:-}
venv=/opt/mitrabot/venv
env_file=/etc/mitrabot/mitrabot.env

step() { printf '\n==> %s\n' "$*"; }
fail() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "run as root (sudo)"
[ -f "$src/pyproject.toml" ] || fail "run it from the project checkout ($src has no pyproject.toml)"
case $domain in
    *[!A-Za-z0-9.-]*) fail "DOMAIN must be a host name, e.g. bot.example.go.id" ;;
esac
if [ -z "$domain" ] && ! grep -qs mitrabot /etc/caddy/Caddyfile; then
    fail "set DOMAIN (the bot's public host name) the first time"
fi

step "Debian packages"
# A PostgreSQL cluster created now listens on its Unix socket only, no TCP port: the bot logs in
# as its own OS user (peer), so there is no database password. An existing cluster is left alone.
if [ ! -d /etc/postgresql ]; then
    mkdir -p /etc/postgresql-common/createcluster.d
    echo "listen_addresses = ''" >/etc/postgresql-common/createcluster.d/mitrabot.conf
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
    ca-certificates python3 python3-venv postgresql postgresql-client caddy

# The cluster's port (5432 unless another PostgreSQL had it when the cluster was created).
pg_port=$(pg_lsclusters --no-header | awk 'NR == 1 { print $3 }')
[ -n "$pg_port" ] || fail "no PostgreSQL cluster (pg_lsclusters shows none)"

step "user mitrabot, data folder /var/lib/mitrabot, backups in /var/backups/mitrabot"
getent passwd mitrabot >/dev/null ||
    useradd --system --user-group --home-dir /var/lib/mitrabot --no-create-home \
        --shell /usr/sbin/nologin mitrabot
install -d -m 0700 -o mitrabot -g mitrabot /var/lib/mitrabot /var/backups/mitrabot

step "code: $venv (from $src)"
install -d -m 0755 /opt/mitrabot
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "$src"
install -m 0755 "$here/mitrabot-cli" /usr/local/bin/mitrabot

step "settings: $env_file"
install -d -m 0750 -o root -g mitrabot /etc/mitrabot
if [ ! -e "$env_file" ]; then
    (umask 077 && sed -e "s/bot\.example\.go\.id/${domain:-bot.example.go.id}/g" \
        -e "s|host=/var/run/postgresql&port=5432|host=/var/run/postgresql\&port=$pg_port|" \
        "$here/mitrabot.env.example" >"$env_file.new")
    mv "$env_file.new" "$env_file"
    echo "written from mitrabot.env.example: fill in the tokens"
fi
chown root:mitrabot "$env_file"
chmod 0600 "$env_file"

step "PostgreSQL: role and database mitrabot"
systemctl start postgresql
cd /
psql_as_postgres() { runuser -u postgres -- psql -p "$pg_port" -X -qtA -c "$1"; }
[ "$(psql_as_postgres "SELECT 1 FROM pg_roles WHERE rolname = 'mitrabot'")" = 1 ] ||
    runuser -u postgres -- createuser -p "$pg_port" mitrabot
[ "$(psql_as_postgres "SELECT 1 FROM pg_database WHERE datname = 'mitrabot'")" = 1 ] ||
    runuser -u postgres -- createdb -p "$pg_port" --owner=mitrabot mitrabot

step "schema: mitrabot db upgrade"
/usr/local/bin/mitrabot db upgrade

step "Caddy: https for ${domain:-the domain already in /etc/caddy/Caddyfile}"
if [ -n "$domain" ]; then
    if [ -e /etc/caddy/Caddyfile ] && ! grep -qs mitrabot /etc/caddy/Caddyfile; then
        mv /etc/caddy/Caddyfile /etc/caddy/Caddyfile.orig
    fi
    sed "s/bot\.example\.go\.id/$domain/g" "$here/Caddyfile" >/etc/caddy/Caddyfile.new
    caddy validate --adapter caddyfile --config /etc/caddy/Caddyfile.new >/dev/null 2>&1 ||
        fail "the Caddyfile for $domain does not validate"
    mv /etc/caddy/Caddyfile.new /etc/caddy/Caddyfile
fi
systemctl enable caddy
systemctl reload-or-restart caddy

step "systemd: units, journald retention, nightly backup"
for unit in mitrabot-serve.service mitrabot-worker.service mitrabot-backup.service \
    mitrabot-backup.timer; do
    install -m 0644 "$here/$unit" /etc/systemd/system/
done
install -d -m 0755 /etc/systemd/journald.conf.d
install -m 0644 "$here/journald-mitrabot.conf" /etc/systemd/journald.conf.d/mitrabot.conf
systemctl try-restart systemd-journald
systemctl daemon-reload
systemctl enable mitrabot-serve.service mitrabot-worker.service
systemctl enable --now mitrabot-backup.timer
if grep -Eq '^MITRABOT_(TELEGRAM|WHATSAPP)_TOKEN=.' "$env_file"; then
    systemctl restart mitrabot-serve.service mitrabot-worker.service
    echo "mitrabot-serve and mitrabot-worker (re)started: journalctl -u mitrabot-serve -f"
else
    echo "no token in $env_file yet: fill it in, then"
    echo "    systemctl start mitrabot-serve mitrabot-worker"
fi
