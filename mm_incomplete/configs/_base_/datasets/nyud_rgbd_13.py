# NYU Depth v2, 13 classes, RGB-D: nyud_rgbd.py with the dataset's 13-class
# mapping (NYU-40 -> NYU-13, label 0 = unlabeled -> 255).
_base_ = ['./nyud_rgbd.py']
num_classes = 13
train_dataloader = dict(dataset=dict(num_classes=num_classes))
val_dataloader = dict(dataset=dict(num_classes=num_classes))
test_dataloader = val_dataloader
