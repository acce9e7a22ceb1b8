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
        return torch.exp(x)
