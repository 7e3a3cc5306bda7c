#!/usr/bin/env bash
# Set up (or check) the project-local virtual environment in .venv.
#
#   bash tools/setup_env.sh
#
# Idempotent: a second run finds the stamp, checks that everything imports and
# returns in seconds. Versions come from requirements/constraints.txt.
#
# Steps, each skipped when already done:
#   1. .venv from Python 3.11 (PYTHON=/path/to/python3.11 to choose one).
#   2. torch + torchvision from PyPI, hiding pip's machine-wide find-links: a
#      CPU-only torch wheel there would be picked and no CPU torchvision exists
#      to match it (`operator torchvision::nms does not exist`).
#   3. the other dependencies (before mmcv: `import mmcv` needs mmengine).
#   4. mmcv with its compiled ops, built from source once (about 8-15 minutes
#      on 2 cores) into a wheel cache keyed by the torch version, then reused;
#      `mmcv._ext` must import, else the wheel is rebuilt once.
#   5. this package in editable mode.
#
# Environment: MM_INCOMPLETE_CACHE (default ~/.cache/mm_incomplete) holds the
# mmcv wheels; MAX_JOBS (default: number of cores) for the mmcv build.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
CONSTRAINTS="$ROOT/requirements/constraints.txt"
CACHE="${MM_INCOMPLETE_CACHE:-$HOME/.cache/mm_incomplete}"
STAMP="$VENV/.mm_incomplete_stamp"

log() { printf '[setup_env] %s\n' "$*" >&2; }
pin() { sed -n "s/^$1==\([^ ]*\).*/\1/p" "$CONSTRAINTS"; }

# pip without the machine's find-links (see step 2) and its torch cap; the
# constraints file is the one place versions are pinned.
vpip() {
    env -u PIP_FIND_LINKS -u PIP_CONSTRAINT PIP_CONFIG_FILE=/dev/null \
        "$PY" -m pip --disable-pip-version-check "$@"
}

# The stamp covers every file that decides what is installed.
want_stamp() {
    cat "$CONSTRAINTS" requirements/build.txt requirements/runtime.txt \
        requirements/tests.txt \
        setup.py tools/setup_env.sh | sha256sum | cut -d' ' -f1
}

check_imports() {
    "$PY" - <<'EOF'
import torch, torchvision, mmcv, mmengine, mmseg, mmpretrain
from mmcv import _ext  # noqa: F401  (compiled ops)
from torchvision.ops import nms  # noqa: F401
import mmpretrain.models  # noqa: F401  (needs a matching torchvision)
import mm_incomplete  # noqa: F401
EOF
}

# ---- fast path ---------------------------------------------------------
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$(want_stamp)" ]] \
        && check_imports 2>/dev/null; then
    log "environment up to date ($VENV)"
    exit 0
fi

# ---- 1. virtual environment -------------------------------------------
if [[ ! -x "$PY" ]]; then
    BASE_PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
    ver="$("$BASE_PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    if [[ "$ver" != "3.11" ]]; then
        log "need Python 3.11, found $ver at $BASE_PY (set PYTHON=...)"
        exit 1
    fi
    log "creating $VENV with $BASE_PY"
    "$BASE_PY" -m venv "$VENV"
fi

# ---- 2. torch and torchvision -----------------------------------------
TORCH="$(pin torch)"; TV="$(pin torchvision)"
have_torch="$("$PY" -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null || true)"
if [[ "$have_torch" != "$TORCH" ]] || ! "$PY" -c 'from torchvision.ops import nms' 2>/dev/null; then
    log "installing torch==$TORCH torchvision==$TV"
    vpip install "torch==$TORCH" "torchvision==$TV"
fi
# mmcv's setup.py imports pkg_resources (setuptools<70) and must see torch;
# that build-time pin is in requirements/build.txt, not in the constraints.
vpip install -c requirements/build.txt setuptools wheel ninja packaging

# ---- 3. the other dependencies (`import mmcv` needs mmengine) ----------
vpip install -c "$CONSTRAINTS" -r requirements/runtime.txt \
    -r requirements/tests.txt

# ---- 4. mmcv with compiled ops ----------------------------------------
MMCV="$(pin mmcv)"
torch_full="$("$PY" -c 'import torch; print(torch.__version__)')"
WHEELS="$CACHE/wheels/torch-$torch_full"
mmcv_ok() {
    "$PY" -c "import mmcv, torch; from mmcv import _ext; \
assert mmcv.__version__ == '$MMCV'" 2>/dev/null
}
build_mmcv() {
    log "building mmcv==$MMCV with its CPU ops against torch $torch_full" \
        "(once; about 15 minutes on 2 cores)"
    rm -rf "$WHEELS"; mkdir -p "$WHEELS"
    MAX_JOBS="${MAX_JOBS:-$(nproc)}" MMCV_WITH_OPS=1 \
        vpip wheel --no-build-isolation --no-deps -w "$WHEELS" "mmcv==$MMCV"
}
# Reinstall when the installed mmcv was built against another torch.
built_for="$(cat "$VENV/.mmcv_torch" 2>/dev/null || true)"
if [[ "$built_for" != "$torch_full" ]] || ! mmcv_ok; then
    for attempt in 1 2; do
        ls "$WHEELS"/mmcv-"$MMCV"-*.whl >/dev/null 2>&1 || build_mmcv
        vpip install --no-deps --force-reinstall "$WHEELS"/mmcv-"$MMCV"-*.whl
        if mmcv_ok; then break; fi
        "$PY" -c 'from mmcv import _ext' || true  # show why
        log "mmcv._ext does not import with the cached wheel; rebuilding"
        rm -rf "$WHEELS"
        [[ $attempt == 2 ]] && { log "mmcv build failed"; exit 1; }
    done
    echo "$torch_full" > "$VENV/.mmcv_torch"
fi

# ---- 5. this package --------------------------------------------------
vpip install -c "$CONSTRAINTS" "mmcv==$MMCV" -r requirements/runtime.txt \
    -r requirements/tests.txt  # resolves mmcv's own requirements too
vpip install --no-deps --no-build-isolation -e .

check_imports
want_stamp > "$STAMP"
log "environment ready: $VENV"
