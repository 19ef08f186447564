#!/usr/bin/env bash
# Prepare a machine for chaosdrill: a Docker engine that answers, a static
# busybox for the locally built images, the package and its test tools, and
# the images themselves. Idempotent: every step checks before it acts.
# Needs root on a Debian/Ubuntu machine when something must be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*"; }
export DEBIAN_FRONTEND=noninteractive
APT_UPDATED=0
apt_install() {
  if [ "$APT_UPDATED" = 0 ]; then
    apt-get update -qq
    APT_UPDATED=1
  fi
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

engine_answers() { timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if ! command -v docker >/dev/null 2>&1 || ! engine_answers; then
  if ! command -v dockerd >/dev/null 2>&1; then
    log "installing the Docker engine (Debian package docker.io)"
    apt_install docker.io
  fi
  if ! engine_answers; then
    log "starting dockerd in the background (log: /var/log/chaosdrill-dockerd.log)"
    # a dockerd left from an earlier run that no longer answers would hold the pid file
    if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
      rm -f /var/run/docker.pid
    fi
    nohup dockerd >/var/log/chaosdrill-dockerd.log 2>&1 </dev/null &
    for _ in $(seq 1 60); do
      engine_answers && break
      sleep 1
    done
  fi
fi
engine_answers || { log "the Docker engine does not answer; see /var/log/chaosdrill-dockerd.log"; exit 1; }
log "Docker engine $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"

if ! { [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; }; then
  log "installing busybox-static (the base of the locally built images)"
  apt_install busybox-static
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  log "installing debootstrap (builds the Debian images from this host's apt mirror)"
  apt_install debootstrap
fi

if [ ! -f /usr/share/keyrings/debian-archive-keyring.gpg ]; then
  log "installing debian-archive-keyring (debootstrap checks every package's signature)"
  apt_install debian-archive-keyring
fi

if ! command -v prometheus >/dev/null 2>&1 || ! command -v prometheus-pushgateway >/dev/null 2>&1; then
  log "installing prometheus and prometheus-pushgateway (tests and the demo start their own, on 127.0.0.1)"
  # the packages' own services are not started: they would listen on every address
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  apt_install prometheus prometheus-pushgateway
  if [ "$made_policy" = 1 ]; then
    rm -f /usr/sbin/policy-rc.d
  fi
fi

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] \
   || [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
  log "installing chromium, chromium-driver and a font (the browser tests drive a headless Chromium)"
  apt_install chromium chromium-driver fonts-dejavu-core
fi

# chaosdrill itself, editable, from this checkout: reinstalled when the installed
# one is another checkout's (scripts and plugins' tests import the installed one).
if ! (cd / && python3 -c "import sys, chaos; assert chaos.__file__.startswith(sys.argv[1])" "$PWD/chaos/") >/dev/null 2>&1 \
   || ! python3 -c "import chaos, docker, jinja2, pluggy, prometheus_client, prometheus_api_client, pydantic, rich, yaml, re2, cryptography, apscheduler, holidays, tzdata, pytest, hypothesis, jsonschema, lxml, importlinter, selenium" >/dev/null 2>&1 \
   || ! python3 -c "from importlib.metadata import entry_points as e; assert any(p.name == 'chaosdrill' for p in e(group='pytest11'))" >/dev/null 2>&1 \
   || ! command -v chaosdrill >/dev/null 2>&1 || ! command -v ruff >/dev/null 2>&1; then
  log "installing chaosdrill and its test tools (pip)"
  python3 -m pip install -q -e '.[test]'
fi

# Editable, from this checkout: reinstalled when the installed one is another
# checkout's (a clone that has since gone, say) or its entry point is missing.
if ! (cd / && python3 -c "
import sys, chaosdrill_example
from importlib.metadata import entry_points as e
assert chaosdrill_example.__file__.startswith(sys.argv[1])
assert any(p.name == 'example' and p.value == 'chaosdrill_example.plugin' for p in e(group='chaosdrill'))
" "$PWD/examples/plugin/") >/dev/null 2>&1; then
  log "installing the example plugin (examples/plugin: its tests run with the suite)"
  python3 -m pip install -q -e examples/plugin
fi

log "building images locally (no registry)"
python3 -m chaos images build
