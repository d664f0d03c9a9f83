#!/usr/bin/env bash
# Starts what Herald and its tests need on loopback: PostgreSQL on 127.0.0.1:5432 (trust for local TCP
# connections, as the tests connect as postgres without a password) and RabbitMQ on 127.0.0.1:5672 (guest/guest,
# with the shovel plugin the REGARDS-to-REGARDS scenario uses), and Debian's Chromium for the console's browser
# tests (playwright-core drives it; it never downloads a browser). Installs Debian's packages when they are missing
# (needs root, as in a container or CI), leaves running services alone, and waits until both answer.
#
#   npm run services
set -euo pipefail

log() { printf '[services] %s\n' "$*"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

if ! command -v chromium >/dev/null; then log "installing Chromium"; apt_install chromium; fi

if ! port_open 5432; then
  if ! command -v pg_ctlcluster >/dev/null; then log "installing PostgreSQL"; apt_install postgresql; fi
  log "starting PostgreSQL"
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  # Tests connect as postgres over TCP without a password (trust on loopback), as on the dev machines.
  hba=/etc/postgresql/$version/main/pg_hba.conf
  grep -q '^host all all 127.0.0.1/32 trust' "$hba" || sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
fi

if ! port_open 5672; then
  if ! command -v rabbitmq-server >/dev/null; then log "installing RabbitMQ"; apt_install rabbitmq-server; fi
  log "starting RabbitMQ"
  rabbitmq-server -detached
fi
for _ in $(seq 1 60); do port_open 5672 && port_open 5432 && break; sleep 1; done
# `npm run bench -- --profile` reads pg_stat_statements, which the server loads only at start: set it and
# restart once (a restart drops every connection, so never while a test suite runs).
if port_open 5432 && command -v psql >/dev/null; then
  libs=$(psql -h 127.0.0.1 -U postgres -Atc "select current_setting('shared_preload_libraries')" 2>/dev/null || true)
  case ",${libs// /}," in
    *,pg_stat_statements,*) ;;
    *)
      if pgrep -f vitest >/dev/null; then
        log "pg_stat_statements is not loaded; not restarting PostgreSQL while tests run (run npm run services again later)"
      else
        log "loading pg_stat_statements (PostgreSQL restart)"
        psql -h 127.0.0.1 -U postgres -qc "alter system set shared_preload_libraries = '${libs:+$libs,}pg_stat_statements'"
        version=$(ls /etc/postgresql | sort -V | tail -n 1)
        pg_ctlcluster --skip-systemctl-redirect "$version" main restart || log "could not restart PostgreSQL: pg_stat_statements stays unloaded"
        for _ in $(seq 1 30); do port_open 5432 && break; sleep 1; done
      fi
      ;;
  esac
fi
rabbitmqctl -q await_startup >/dev/null 2>&1 || true
# The REGARDS-to-REGARDS scenario moves acknowledgements between vhosts with a shovel.
rabbitmq-plugins -q enable rabbitmq_shovel >/dev/null 2>&1 || log "could not enable rabbitmq_shovel"
if port_open 5432 && port_open 5672; then
  log "PostgreSQL on 127.0.0.1:5432 and RabbitMQ on 127.0.0.1:5672 are up"
else
  log "PostgreSQL or RabbitMQ did not come up within 60 s"
  exit 1
fi
