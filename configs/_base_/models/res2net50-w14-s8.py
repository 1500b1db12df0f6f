# Res2Net-50 14w8s classifier, the paper's design (plain stem):
_base_ = './res2net50-w26-s4.py'
model = dict(backbone=dict(scales=8, base_width=14))
