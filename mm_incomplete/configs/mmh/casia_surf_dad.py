# MMH on CASIA-SURF with DAD alone (the release's "patch_feature" runs):
#   L = CE + 100 (L_DAD(stage 3) + L_DAD(stage 4))   (RGB student)
_base_ = ['./casia_surf.py']
model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_dad_stage3={{_base_.model.distill_losses.loss_dad_stage3}},
        loss_dad_stage4={{_base_.model.distill_losses.loss_dad_stage4}}))
