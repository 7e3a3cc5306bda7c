"""Suite-wide settings.

Torch ops of the tiny test models are too small to profit from intra-op
threads, and on a 2-core machine threads of concurrent processes (pytest and
the tools it starts) oversubscribe the cores; one thread each is faster.
"""
import os

import torch

os.environ.setdefault('OMP_NUM_THREADS', '1')  # inherited by subprocesses
torch.set_num_threads(1)
