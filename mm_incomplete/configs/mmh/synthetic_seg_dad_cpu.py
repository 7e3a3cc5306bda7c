# MMH with DAD alone on the synthetic segmentation set:
#   L = L_ce + 100 (L_DAD(stage 3) + L_DAD(stage 4))
_base_ = ['./synthetic_seg_cpu.py']
model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_dad_stage3={{_base_.model.distill_losses.loss_dad_stage3}},
        loss_dad_stage4={{_base_.model.distill_losses.loss_dad_stage4}}))
