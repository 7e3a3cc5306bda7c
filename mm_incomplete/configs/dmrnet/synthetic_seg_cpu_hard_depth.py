# DMRNet on the synthetic segmentation set with the hard combination fixed to
# depth-only (as the papers' NYUDv2 setting fixes it) instead of mined. Also
# the config the benchmark times: with a mined set the auxiliary decoder does
# not run before mining ends, which would understate the step's cost.
#   python tools/analysis/benchmark.py --threads 1 --clock cpu \
#       --case dmrnet=dmrnet/synthetic_seg_cpu_hard_depth.py
_base_ = ['./synthetic_seg_cpu.py']
model = dict(method_losses=dict(hard_combination=dict(combinations=['depth'])))
custom_hooks = [
    dict(
        type='LossScaleWarmupHook',
        modules=['method_losses'],
        begin={{_base_.regularizer_begin}}),
]
