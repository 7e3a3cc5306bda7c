"""Run the code blocks of one tutorial, in order, in one interpreter.

    python _tutorial_driver.py TUTORIAL.md   (cwd: the tutorial's folder)

```` ```python file=PATH ```` writes a file; ```` ```python ```` is executed
(as ``__main__``, the folder on ``sys.path``); each command of a
```` ```shell ```` block runs with bash, except ``[VAR=value ...] python
tools/<tool>.py args`` which runs the tool in this interpreter (``runpy``,
with the variables set and the arguments glob-expanded as a shell would), so
torch and the OpenMMLab libraries are imported once per tutorial rather than
once per command. Before each block the driver prints ``@@BLOCK i@@``; a
failing block exits with status 1 and names the block.
"""
import glob
import os
import re
import runpy
import shlex
import subprocess
import sys
import traceback

FENCE = re.compile(r'^```([\w-]*)[ \t]*([^\n]*)\n(.*?)^```[ \t]*$',
                   re.M | re.S)
TOOL = re.compile(r'^((?:[A-Za-z_]\w*=\S*\s+)*)python\s+(tools/\S+\.py)'
                  r'(\s.*)?$', re.S)
SHELL_ONLY = set('|;&<>`(){}')


def blocks(path):
    """[(kind, arg, body)]: ('file', path, text) / ('python', None, code) /
    ('shell', None, script), in document order."""
    with open(path) as f:
        text = f.read()
    out = []
    for lang, info, body in FENCE.findall(text):
        target = re.search(r'file=(\S+)', info)
        if lang == 'python':
            out.append(('file', target.group(1), body) if target else
                       ('python', None, body))
        elif lang == 'shell':
            out.append(('shell', None, body))
    return out


def commands(script):
    """Shell commands of a block (backslash continuations joined)."""
    joined = re.sub(r'\\\n\s*', ' ', script)
    return [line.strip() for line in joined.splitlines()
            if line.strip() and not line.strip().startswith('#')]


def run_tool_in_process(env_part, tool, args):
    for assignment in shlex.split(env_part):
        name, _, value = assignment.partition('=')
        value = os.path.expandvars(value)
        os.environ[name] = value
        if name == 'PYTHONPATH':
            for entry in reversed([p for p in value.split(':') if p]):
                if entry not in sys.path:
                    sys.path.insert(0, entry)
    argv = []
    for arg in shlex.split(args or ''):
        arg = os.path.expandvars(arg)
        matches = sorted(glob.glob(arg)) if any(c in arg for c in '*?[') \
            else []
        argv.extend(matches or [arg])
    saved = sys.argv
    sys.argv = [tool] + argv
    try:
        runpy.run_path(tool, run_name='__main__')
    except SystemExit as e:
        if e.code not in (None, 0):
            raise RuntimeError(f'{tool} exited with {e.code}') from None
    finally:
        sys.argv = saved


def run_command(cmd):
    match = TOOL.match(cmd)
    if match and not SHELL_ONLY & set(match.group(3) or ''):
        print(f'$ {cmd}  [in process]', flush=True)
        run_tool_in_process(match.group(1), match.group(2), match.group(3))
        return
    print(f'$ {cmd}', flush=True)
    proc = subprocess.run(['bash', '-e', '-o', 'pipefail', '-c', cmd],
                          stdout=sys.stdout, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise RuntimeError(f'`{cmd}` exited with {proc.returncode}')


def main(path):
    sys.path.insert(0, os.getcwd())
    for i, (kind, arg, body) in enumerate(blocks(path)):
        print(f'@@BLOCK {i}@@', flush=True)
        try:
            if kind == 'file':
                os.makedirs(os.path.dirname(arg) or '.', exist_ok=True)
                with open(arg, 'w') as f:
                    f.write(body)
            elif kind == 'python':
                exec(compile(body, f'{path}:block{i}', 'exec'),
                     {'__name__': '__main__'})
            else:
                for cmd in commands(body):
                    run_command(cmd)
        except Exception:
            sys.stdout.flush()
            print(f'@@FAILED block {i} ({kind})@@\n{body}', flush=True)
            traceback.print_exc(file=sys.stdout)
            sys.stdout.flush()
            sys.exit(1)
        sys.stdout.flush()
        sys.stderr.flush()


if __name__ == '__main__':
    main(sys.argv[1])
