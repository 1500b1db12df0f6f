# Res2Net-101 26w4s classifier, the paper's design (plain stem):
_base_ = './res2net50-w26-s4.py'
model = dict(backbone=dict(depth=101))
