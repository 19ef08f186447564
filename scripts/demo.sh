#!/usr/bin/env bash
# Set up this machine (see setup.sh), start the demo stack and run the
# example experiment it survives. Pass another experiment file to run that.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
python3 -m chaos demo up
python3 -m chaos run "${1:-experiments/web-survives-crash.yaml}"
