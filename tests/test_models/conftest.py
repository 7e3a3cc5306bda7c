import os.path as osp
import sys

# tests of methods and late fusion import their tiny models from _tiny.py
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
