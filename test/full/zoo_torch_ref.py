# test:full helper (zoo-torch.test.ts): load our zoo ONNX weights into torchvision / a plain-torch BERT and compute reference outputs.
import sys, numpy as np, onnx, torch, torchvision, math
from onnx import numpy_helper
torch.set_num_threads(1)
name, path, out = sys.argv[1], sys.argv[2], sys.argv[3]
m = onnx.load(path)
W = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in m.graph.initializer}
if name in ('resnet18', 'resnet50', 'mobilenetv2'):
    net = {'resnet18': torchvision.models.resnet18, 'resnet50': torchvision.models.resnet50, 'mobilenetv2': torchvision.models.mobilenet_v2}[name]()
    sd = net.state_dict()
    missing = [k for k in sd if k not in W and not k.endswith('num_batches_tracked')]
    extra = [k for k in W if k not in sd]
    assert not missing and not extra, (missing[:5], extra[:5])
    net.load_state_dict({k: W.get(k, sd[k]) for k in sd})
    net.eval()
    x = torch.from_numpy(np.fromfile(out + '.in', dtype=np.float32).reshape(2, 3, 224, 224))
    with torch.no_grad(): y = net(x)
    y.numpy().astype(np.float32).tofile(out)
else:
    L = {'bert-tiny': 2, 'bert-mini': 4}[name]
    H = W['bert.embeddings.word_embeddings.weight'].shape[1]; heads = H // 64
    ids = torch.from_numpy(np.fromfile(out + '.in', dtype=np.int64).reshape(3, 2, -1))
    input_ids, mask, types = ids[0], ids[1], ids[2]
    S = input_ids.shape[1]
    ln = lambda x, p: torch.nn.functional.layer_norm(x, (H,), W[p + '.weight'], W[p + '.bias'], 1e-12)
    lin = lambda x, p: x @ W[p + '.weight'] + W[p + '.bias']  # stored [in, out]
    e = 'bert.embeddings.'
    h = W[e + 'word_embeddings.weight'][input_ids] + W[e + 'token_type_embeddings.weight'][types] + W[e + 'position_embeddings.weight'][torch.arange(S)]
    h = ln(h, e + 'LayerNorm')
    ext = (1.0 - mask[:, None, None, :].float()) * -10000.0
    for i in range(L):
        p = f'bert.encoder.layer.{i}.'
        split = lambda t: t.view(2, S, heads, 64).permute(0, 2, 1, 3)
        q, k, v = (split(lin(h, p + 'attention.self.' + n)) for n in ('query', 'key', 'value'))
        a = torch.softmax(q @ k.transpose(-1, -2) / 8.0 + ext, -1) @ v
        a = a.permute(0, 2, 1, 3).reshape(2, S, H)
        h = ln(lin(a, p + 'attention.output.dense') + h, p + 'attention.output.LayerNorm')
        f = torch.nn.functional.gelu(lin(h, p + 'intermediate.dense'))
        h = ln(lin(f, p + 'output.dense') + h, p + 'output.LayerNorm')
    pooled = torch.tanh(h[:, 0] @ W['bert.pooler.dense.weight'].T + W['bert.pooler.dense.bias'])
    logits = pooled @ W['classifier.weight'].T + W['classifier.bias']
    np.concatenate([h.numpy().ravel(), logits.numpy().ravel()]).astype(np.float32).tofile(out)
print('torch reference written', name)
