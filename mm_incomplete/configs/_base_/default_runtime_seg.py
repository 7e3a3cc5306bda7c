# Runtime shared by the segmentation configs (mmseg scope, plugin imported).
default_scope = 'mmseg'
custom_imports = dict(imports=['mm_incomplete'], allow_failed_imports=False)
# mmengine's Runner plus atomic checkpoints, layout/strict/NaN checks and
# bit-exact resume (mm_incomplete/engine/runner.py)
runner_type = 'MultiModalRunner'
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # gloo where CUDA is absent (tools/train.py sets it), nccl otherwise
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
tta_model = dict(type='SegTTAModel')
randomness = dict(seed=0)
# default_hooks live in the schedule files (as in mmseg), since the
# checkpoint interval and save_best follow the schedule.
# Branches whose modality is masked out for a whole batch do not run, so DDP
# must tolerate parameters without gradients.
find_unused_parameters = True
