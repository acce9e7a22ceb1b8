"""Hand-written torch models, in the styles people write them, for `cnncalc import`."""

import torch
import torch.nn.functional as F
from torch import nn
from torchref import BasicBlock, ResNet


class TutorialNet(nn.Module):
    """PyTorch's "Neural Networks" tutorial, functional pooling and a view to flatten."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 3)
        self.conv2 = nn.Conv2d(6, 16, 3)
        self.fc1 = nn.Linear(16 * 6 * 6, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(x.size(0), -1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class Audio1d(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(2, 8, 5, stride=2, padding=2)
        self.bn = nn.BatchNorm1d(8)
        self.conv2 = nn.Conv1d(8, 8, 3, dilation=2)
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        x = F.relu(self.bn(self.conv(x)))
        x = F.avg_pool1d(self.conv2(x), 2)
        x = F.adaptive_avg_pool1d(x, 1)
        return self.head(torch.flatten(x, 1))


class Video3d(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv3d(3, 4, (3, 3, 3), padding=1)
        self.pool = nn.MaxPool3d(2, ceil_mode=True)
        self.up = nn.ConvTranspose3d(4, 2, 2, stride=2)

    def forward(self, x):
        return self.up(self.pool(torch.sigmoid(self.stem(x))))


class TinyUNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Conv2d(1, 4, 3, padding=1)
        self.down = nn.Conv2d(4, 8, 3, stride=2, padding=1)
        self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.dec = nn.Conv2d(8, 2, 1)

    def forward(self, x):
        e = F.relu(self.enc(x))
        d = F.relu(self.down(e))
        u = self.up(d)
        return self.dec(torch.cat([u, e], dim=1))


class PadsAndShuffles(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 12, 3)
        self.shuffle = nn.PixelShuffle(2)
        self.reflect = nn.ReflectionPad2d(1)

    def forward(self, x):
        x = F.pad(x, (1, 1, 2, 0))
        x = self.shuffle(self.conv(x))
        x = self.reflect(x)
        x = F.pad(x, (1, 1, 0, 0), mode="replicate")
        return F.pixel_unshuffle(x, 2)


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(4, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 4, 3, padding=1)
        self.act = nn.ReLU()
        self.gate = nn.Conv2d(4, 4, 1)

    def forward(self, x):
        y = self.act(self.a(x))
        y = self.b(y)
        y += x
        y = y * torch.sigmoid(self.gate(F.adaptive_avg_pool2d(y, 1)))
        return self.act(y)


def resnet10():
    return ResNet(BasicBlock, [1, 1, 1, 1], num_classes=7)


class SharedWeights(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x):
        return self.conv(self.conv(x))


class Unsupported(nn.Module):
    def forward(self, x):
        return torch.cumsum(x, 1)


class ShuffleUnit(nn.Module):
    """A ShuffleNetV2 unit of stride 1, written as torchvision's InvertedResidual writes it."""

    def __init__(self, c: int = 116):
        super().__init__()
        b = c // 2
        self.branch2 = nn.Sequential(
            nn.Conv2d(b, b, 1, bias=False),
            nn.BatchNorm2d(b),
            nn.ReLU(inplace=True),
            nn.Conv2d(b, b, 3, padding=1, groups=b, bias=False),
            nn.BatchNorm2d(b),
            nn.Conv2d(b, b, 1, bias=False),
            nn.BatchNorm2d(b),
            nn.ReLU(inplace=True),
        )

    def forward(self, x):
        x1, x2 = x.chunk(2, dim=1)
        out = torch.cat((x1, self.branch2(x2)), dim=1)
        n, c, h, w = out.size()
        out = out.view(n, 2, c // 2, h, w)
        out = torch.transpose(out, 1, 2).contiguous()
        return out.view(n, -1, h, w)


class ConvNeXtBlock(nn.Module):
    """torchvision's CNBlock: depthwise conv, permute, LayerNorm, MLP, permute back, layer scale,
    stochastic depth."""

    def __init__(self, dim: int = 16):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, 7, padding=3, groups=dim),
            _Permute([0, 2, 3, 1]),
            nn.LayerNorm(dim, eps=1e-6),
            nn.Linear(dim, 4 * dim),
            nn.GELU(),
            nn.Linear(4 * dim, dim),
            _Permute([0, 3, 1, 2]),
        )
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * 1e-6)

    def forward(self, x):
        return self.layer_scale * self.block(x) + x


class _Permute(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return torch.permute(x, self.dims)


class LayerNorm2d(nn.LayerNorm):
    """timm's LayerNorm2d: a LayerNorm over channels, permuting around F.layer_norm."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class BatchNormAct2d(nn.BatchNorm2d):
    """timm's BatchNormAct2d: F.batch_norm with the module's own tensors, then an activation."""

    def __init__(self, c):
        super().__init__(c)
        self.act = nn.SiLU()

    def forward(self, x):
        x = F.batch_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            False,
            self.momentum,
            self.eps,
        )
        return self.act(x)


class TimmLinear(nn.Linear):
    """timm's Linear: a subclass whose forward calls F.linear with its own tensors."""

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)


class PlainConv(nn.Conv2d):
    """A subclass that keeps nn.Conv2d's forward: imported as a Conv2d."""


class TimmStyle(nn.Module):
    """Modules whose forward calls functional ops with their own tensors; a mean over H, W; an aux
    head never used;
    several outputs in a dict."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2)
        self.bn = BatchNormAct2d(8)
        self.norm = LayerNorm2d(8)
        self.attn = PlainConv(8, 8, 1)
        self.head = TimmLinear(8, 5)
        self.aux = nn.Linear(8, 3)  # never called

    def forward(self, x):
        x = self.norm(self.bn(self.stem(x)))
        q, k = torch.split(x, [4, 4], dim=1)
        g = torch.matmul(q.flatten(2).transpose(1, 2), k.flatten(2)).softmax(-1)
        assert x.shape[1] == 8
        x = x * self.attn(x).sigmoid() / 2
        return {"logits": self.head(x.mean((2, 3))), "attn": g}
