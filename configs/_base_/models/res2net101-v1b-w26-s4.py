# Res2Net-101 26w4s classifier, v1b (deep stem, AvgPool shortcuts; timm res2net101d):
_base_ = './res2net50-w26-s4.py'
model = dict(backbone=dict(depth=101, deep_stem=True, avg_down=True))
