import os.path as osp
import sys

# the tests import their config fingerprint from _config_fingerprint.py next to them
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))


