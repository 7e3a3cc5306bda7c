"""Generate the synthetic RGB-D segmentation or classification set.

The dataset classes generate it on first use; this CLI does it ahead of time
(e.g. to inspect it). Same parameters -> byte-identical set.

Example:
  python tools/dataset_converters/synthetic_rgbd.py seg -o data/synthetic_rgbd_seg
  python tools/dataset_converters/synthetic_rgbd.py cls --seed 1 --size 64
"""
import argparse
import sys

from mm_incomplete.datasets.synthetic import ensure_synthetic

DEFAULTS = dict(
    seg=dict(out='data/synthetic_rgbd_seg', num_train=400, num_val=100,
             num_test=100),
    cls=dict(out='data/synthetic_rgbd_cls', num_train=800, num_val=200,
             num_test=200))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate a synthetic RGB-D set (rgb/, depth/ uint16 mm, '
        'label/ or {train,val,test}.txt).')
    parser.add_argument('task', choices=('seg', 'cls'))
    parser.add_argument('-o', '--out', help='data_root to create')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--size', type=int, default=64, help='image side')
    parser.add_argument('--num-train', type=int)
    parser.add_argument('--num-val', type=int)
    parser.add_argument('--num-test', type=int)
    parser.add_argument('--min-objects', type=int, default=3,
                        help='seg only')
    parser.add_argument('--max-objects', type=int, default=6,
                        help='seg only')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    d = DEFAULTS[args.task]
    params = dict(
        seed=args.seed, size=args.size,
        num_train=d['num_train'] if args.num_train is None else args.num_train,
        num_val=d['num_val'] if args.num_val is None else args.num_val,
        num_test=d['num_test'] if args.num_test is None else args.num_test)
    if args.task == 'seg':
        if not 1 <= args.min_objects <= args.max_objects:
            raise SystemExit('--min-objects/--max-objects must satisfy '
                             '1 <= min <= max')
        params.update(min_objects=args.min_objects,
                      max_objects=args.max_objects)
    out = args.out or d['out']
    made = ensure_synthetic(out, args.task, params, progress=True)
    print(f'{"generated" if made else "already present"}: {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
