# Res2Net-50 26w4s classifier, v1b (deep stem, AvgPool shortcuts; timm res2net50d):
_base_ = './res2net50-w26-s4.py'
model = dict(backbone=dict(deep_stem=True, avg_down=True))
