"""PyTorch peer of bench/train.ts: the same Fashion-MNIST ResNet (models/fashion-mnist/arch.ts), trained with
SGD (Nesterov momentum 0.9, weight decay 5e-4) on random batches. Line protocol on stdin/stdout, so the
TypeScript side can interleave rounds with its own: `steps N` runs N training steps and prints the seconds."""
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
BATCH = int(sys.argv[2]) if len(sys.argv) > 2 else 128


class ConvBn(nn.Module):
    def __init__(self, cin, cout, k, stride):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)

    def forward(self, x):
        return self.bn(self.conv(x))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.a = ConvBn(cin, cout, 3, stride)
        self.b = ConvBn(cout, cout, 3, 1)
        self.proj = None if stride == 1 and cin == cout else ConvBn(cin, cout, 1, stride)

    def forward(self, x):
        h = self.b(F.relu(self.a(x)))
        return F.relu(h + (x if self.proj is None else self.proj(x)))


class FashionResNet(nn.Module):
    def __init__(self, widths=(16, 32, 64)):
        super().__init__()
        self.stem = ConvBn(1, widths[0], 3, 1)
        self.block1 = Block(widths[0], widths[0], 1)
        self.block2 = Block(widths[0], widths[1], 2)
        self.block3 = Block(widths[1], widths[2], 2)
        self.fc = nn.Linear(widths[2], 10)

    def forward(self, x):
        h = F.relu(self.stem((x - 0.286) / 0.353))
        h = self.block3(self.block2(self.block1(h)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


model = FashionResNet()
model.train()
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
x = torch.rand(BATCH, 1, 28, 28)
y = torch.randint(0, 10, (BATCH,))


def step():
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss.item()


print("ready", torch.__version__, flush=True)
for line in sys.stdin:
    cmd = line.split()
    if not cmd:
        continue
    if cmd[0] == "steps":
        t0 = time.perf_counter()
        for _ in range(int(cmd[1])):
            step()
        print(time.perf_counter() - t0, flush=True)
    elif cmd[0] == "quit":
        break
