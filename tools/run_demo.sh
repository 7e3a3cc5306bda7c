#!/usr/bin/env bash
# Set everything up (idempotent) and run the demo: train on the synthetic
# RGB-D segmentation set on the CPU, then print the per-combination table and
# write the bar chart.
#   bash tools/run_demo.sh [demo.py args]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/setup_env.sh
exec .venv/bin/python tools/demo.py "$@"
