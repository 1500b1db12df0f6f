# Res2Net-50 48w2s classifier, the paper's design (plain stem):
_base_ = './res2net50-w26-s4.py'
model = dict(backbone=dict(scales=2, base_width=48))
