import os.path as osp
import sys

# the tests import their tiny configs from _builders.py next to them
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))


