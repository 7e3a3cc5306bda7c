"""Console scripts: ``mmi-train``, ``mmi-test``, ``mmi-demo``, ...

Each runs the very file the repository's ``tools/`` holds (``runpy``, as
``__main__``), found in the installed package under
``mm_incomplete/.mim/tools`` (a link to ``tools/`` in a checkout, a copy in a
wheel), so an installed user needs no repository and the scripts cannot drift
from the tools::

    mmi-train CONFIG [--work-dir DIR] ...         # tools/train.py
    mmi-test CONFIG CHECKPOINT [--out DIR] ...    # tools/test.py
    mmi-demo RGB CONFIG [CHECKPOINT] [--depth D]  # tools/demo/image_demo.py
    mmi-export-student CKPT OUT [--config C]      # tools/model_converters/
    mmi-plot-combinations JSON... --out PNG       # tools/analysis/
"""
import os.path as osp
import runpy
import sys
from typing import Optional, Sequence

PACKAGE = osp.dirname(osp.abspath(__file__))
TOOLS = dict(
    train='train.py',
    test='test.py',
    demo=osp.join('demo', 'image_demo.py'),
    export_student=osp.join('model_converters', 'export_student.py'),
    plot_combinations=osp.join('analysis', 'plot_combinations.py'),
)


def tools_dir() -> str:
    """``mm_incomplete/.mim/tools`` (installed) or the checkout's ``tools``."""
    for path in (osp.join(PACKAGE, '.mim', 'tools'),
                 osp.join(osp.dirname(PACKAGE), 'tools')):
        if osp.isfile(osp.join(path, 'train.py')):
            return path
    raise FileNotFoundError(
        f'the tools are not installed: neither {PACKAGE}/.mim/tools nor '
        f'{osp.dirname(PACKAGE)}/tools holds train.py; reinstall '
        'mm_incomplete')


def tool_path(name: str) -> str:
    """The file of tool ``name`` (a key of :data:`TOOLS`)."""
    if name not in TOOLS:
        raise KeyError(f'unknown tool {name!r}; tools: {sorted(TOOLS)}')
    path = osp.join(tools_dir(), TOOLS[name])
    if not osp.isfile(path):
        raise FileNotFoundError(f'tool {name!r} not found at {path}')
    return path


def run_tool(name: str, argv: Optional[Sequence[str]] = None) -> None:
    """Run tool ``name`` as ``python tools/<file> *argv`` would."""
    path = tool_path(name)
    argv = sys.argv[1:] if argv is None else list(argv)
    saved = sys.argv
    sys.argv = [path] + argv
    try:
        runpy.run_path(path, run_name='__main__')
    finally:
        sys.argv = saved


def train(argv=None):
    run_tool('train', argv)


def test(argv=None):
    run_tool('test', argv)


def demo(argv=None):
    run_tool('demo', argv)


def export_student(argv=None):
    run_tool('export_student', argv)


def plot_combinations(argv=None):
    run_tool('plot_combinations', argv)
