# Which digit moves which way: the digit-clip job (our ResNet3d, R3D-18 layout, in mmaction2's
# Recognizer3D + I3DHead, AdamW and cosine as the direction job) on the 40 classes of
# mmbackbones.demos.datasets.digit_moves: a handwritten digit and its direction of motion, 3
# train clips per class. The class needs what the digit is (one frame shows it) and which way it
# moves (only the order of the frames shows it): docs/video.md. From scratch; the
# r3d-18_inflate-*_..._digit-moves.py configs start from the 2D digits job.
# Needs the mmaction tier: bash tools/install.sh --with-mmaction.
#   python tools/train.py configs/mmaction/digits/r3d-18_8xb16-8x32x32_digit-moves.py
# mmaction2's own ResNet3d and its own inflation (mean over time) from the 2D digits job, after
#   python tools/misc/torchvision_layout.py \
#       work_dirs/resnet18_8xb16_digits/best_accuracy_top1_epoch_5.pth \
#       work_dirs/resnet18_8xb16_digits/resnet18_torchvision.pth
# run this config with
#   --cfg-options model.backbone.type=ResNet3d model.backbone.pretrained2d=True \
#       model.backbone.pretrained=work_dirs/resnet18_8xb16_digits/resnet18_torchvision.pth
_base_ = './r3d-18_8xb16-8x32x32_digit-clips.py'

model = dict(cls_head=dict(num_classes=40))

dataset_type = 'mmbackbones.DigitMovesDataset'
data_root = 'data/digit_moves'
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader

# 54 epochs of 120 clips (3 per class): 432 steps of up to 16 clips (the direction job: 400)
train_cfg = dict(max_epochs=54)
