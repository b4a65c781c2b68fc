"""PyTorch 1.13 peer for bench/quantize.ts: a BERT-base-sized encoder (12 x d768, 12 heads, ff3072, GELU),
batch 1, fp32 or torch.quantization.quantize_dynamic (int8 Linear). Prints one JSON line with latencies.

    python3 bench/quantize_torch.py --mode fp32|int8 --seq 128 --runs 20 --warmup 3

Thread settings are the caller's (FACTS.md: fp32 best with OPENBLAS_NUM_THREADS=2 and torch 1 thread;
int8 with OPENBLAS_NUM_THREADS=1 and torch 2 threads). batch_first=False: quantize_dynamic crashes with
batch_first=True in 1.13. quantize_dynamic converts the FFN Linears; attention's out_proj is a
NonDynamicallyQuantizableLinear and stays float.
"""
import argparse, json, os, statistics, time
import torch
import torch.nn as nn

p = argparse.ArgumentParser()
p.add_argument('--mode', choices=['fp32', 'int8'], default='fp32')
p.add_argument('--seq', type=int, default=128)
p.add_argument('--runs', type=int, default=20)
p.add_argument('--warmup', type=int, default=3)
p.add_argument('--torch-threads', type=int, default=1)
a = p.parse_args()

torch.manual_seed(0)
torch.set_num_threads(a.torch_threads)


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(30522, 768)
        self.pos = nn.Embedding(512, 768)
        self.norm = nn.LayerNorm(768)
        layer = nn.TransformerEncoderLayer(768, 12, 3072, dropout=0.0, activation='gelu')
        self.enc = nn.TransformerEncoder(layer, 12)
        self.cls = nn.Linear(768, 2)

    def forward(self, ids):
        x = self.norm(self.emb(ids) + self.pos(torch.arange(ids.shape[0]).unsqueeze(1)))
        return self.cls(self.enc(x)[0])


model = Encoder().eval()
if a.mode == 'int8':
    torch.backends.quantized.engine = 'onednn' if 'onednn' in torch.backends.quantized.supported_engines else 'qnnpack'
    model = torch.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
ids = torch.randint(0, 30522, (a.seq, 1))
times = []
with torch.inference_mode():
    for i in range(a.warmup + a.runs):
        t0 = time.perf_counter()
        model(ids)
        if i >= a.warmup:
            times.append((time.perf_counter() - t0) * 1000)
print(json.dumps({'mode': a.mode, 'seq': a.seq, 'median_ms': statistics.median(times), 'min_ms': min(times), 'max_ms': max(times), 'runs': len(times),
                  'torch': torch.__version__, 'engine': torch.backends.quantized.engine, 'torch_threads': a.torch_threads,
                  'openblas_threads': os.environ.get('OPENBLAS_NUM_THREADS')}))
