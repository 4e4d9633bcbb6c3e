"""Our exported models in PyTorch and onnxruntime, and PyTorch models for us.

Three commands, run from the project root with a Python that has torch,
safetensors, onnxruntime and numpy (`pip install torch==2.13.0 safetensors
onnxruntime`):

  predict MODEL TEXTS [--compare JSONL]
      MODEL is a classifier written by `deno task export`, as .safetensors
      (built here as the same PyTorch module, loaded with
      safetensors.torch.load_file + load_state_dict(strict=True)) or as .onnx
      (run by onnxruntime). Each line of TEXTS is tokenized from the file's
      metadata alone (vocab, tokenizer, padding_id), the batch runs padded,
      and one JSON line per text is printed like `deno task classify
      --predict-file TEXTS --json`. With --compare (that command's output),
      prints how far apart the two are: top-1 agreement and the largest
      probability difference.

  lm MODEL.safetensors
      Builds the language model of an exported safetensors file, loads it
      strictly and prints its logits for a fixed batch (a smoke test).

  fixtures OUT_DIR
      Trains a small LSTM classifier (2 layers, bidirectional) and a GRU
      language model (nn.GRU, reset-after) in PyTorch for a few steps, saves
      them as safetensors with our metadata, and writes the outputs PyTorch
      computes for a padded batch beside them, for tests/export/torch_import_test.ts.
      (made with torch 2.13.0: data/fixtures/export/)

Our GRU by default is d2l's (reset gate before the recurrent matmul), which
nn.GRU does not compute: ResetBeforeGRU below is that cell with nn.GRU's
parameter names and layout, so such a file still loads with strict=True.
"""
import argparse
import json
import os
import sys
import unicodedata

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class ResetBeforeGRU(nn.Module):
    """d2l's GRU, h~ = tanh(W_in x + b_in + W_hn (r * h) + b_hn), in nn.GRU's names and gate order r, z, n."""

    def __init__(self, input_size, hidden_size, num_layers, bidirectional):
        super().__init__()
        H, self.hidden_size, self.num_layers = hidden_size, hidden_size, num_layers
        self.dirs = 2 if bidirectional else 1
        for layer in range(num_layers):
            d_in = input_size if layer == 0 else H * self.dirs
            for suffix in ["", "_reverse"][: self.dirs]:
                shapes = {"weight_ih": (3 * H, d_in), "weight_hh": (3 * H, H), "bias_ih": (3 * H,), "bias_hh": (3 * H,)}
                for name, shape in shapes.items():
                    self.register_parameter(f"{name}_l{layer}{suffix}", nn.Parameter(torch.zeros(shape)))

    def step(self, x, h, key):
        p = lambda name: getattr(self, f"{name}_{key}")  # noqa: E731
        i_r, i_z, i_n = (x @ p("weight_ih").T + p("bias_ih")).chunk(3, dim=1)
        W_hr, W_hz, W_hn = p("weight_hh").chunk(3)
        b_hr, b_hz, b_hn = p("bias_hh").chunk(3)
        r = torch.sigmoid(i_r + h @ W_hr.T + b_hr)
        z = torch.sigmoid(i_z + h @ W_hz.T + b_hz)
        n = torch.tanh(i_n + (r * h) @ W_hn.T + b_hn)
        return (1 - z) * n + z * h

    def forward(self, x, lengths=None, h0=None):
        """x [B, T, D] batch-first; packed-sequence semantics over lengths [B]. Returns outputs, h_n."""
        B, T, _ = x.shape
        lengths = torch.full((B,), T) if lengths is None else lengths
        mask = (torch.arange(T)[None, :] < lengths[:, None]).to(x.dtype)  # [B, T]
        finals = []
        for layer in range(self.num_layers):
            outs = []
            for d, suffix in enumerate(["", "_reverse"][: self.dirs]):
                k = layer * self.dirs + d
                h = x.new_zeros(B, self.hidden_size) if h0 is None else h0[k]
                ys = [None] * T
                for t in range(T) if d == 0 else range(T - 1, -1, -1):
                    m = mask[:, t : t + 1]
                    h = m * self.step(x[:, t], h, f"l{layer}{suffix}") + (1 - m) * h
                    ys[t] = h * m
                outs.append(torch.stack(ys, 1))
                finals.append(h)
            x = torch.cat(outs, 2)
        return x, torch.stack(finals)


def recurrent(config, input_size, variant):
    """nn.RNN / nn.GRU / nn.LSTM (batch-first), or ResetBeforeGRU, from our config."""
    cell, H = config["cell"], config["hiddenSize"]
    layers, bidirectional = config["layers"], config["bidirectional"]
    if cell == "gru" and variant == "reset_before":
        return ResetBeforeGRU(input_size, H, layers, bidirectional)
    kwargs = dict(num_layers=layers, bidirectional=bidirectional, batch_first=True)
    if cell == "rnn":
        return nn.RNN(input_size, H, nonlinearity=config.get("nonlinearity", "tanh"), **kwargs)
    return (nn.GRU if cell == "gru" else nn.LSTM)(input_size, H, **kwargs)


def run_rnn(rnn, x, lengths=None, state=None):
    """Outputs [B, T, W] (zero past each length) and h_n (plus c_n for LSTM) of any of the above."""
    if isinstance(rnn, ResetBeforeGRU):
        out, h = rnn(x, lengths, state)
        return out, h, None
    if lengths is not None:
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, final = rnn(packed, state)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    else:
        out, final = rnn(x, state)
    return (out, *final) if isinstance(rnn, nn.LSTM) else (out, final, None)


class Classifier(nn.Module):
    """Our SequenceClassifier: embedding -> recurrent stack over the real steps -> head -> linear -> softmax."""

    def __init__(self, config, variant="reset_after"):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config["vocabSize"], config["embeddingSize"])
        self.rnn = recurrent(config, config["embeddingSize"], variant)
        dirs = 2 if config["bidirectional"] else 1
        self.out = nn.Linear(config["hiddenSize"] * dirs, config["numLabels"])

    def forward(self, ids, lengths):
        outputs, h_n, _ = run_rnn(self.rnn, self.embedding(ids), lengths)
        dirs = 2 if self.config["bidirectional"] else 1
        mask = (torch.arange(ids.shape[1])[None, :] < lengths[:, None]).float()[:, :, None]
        head = self.config["head"]
        if head == "last":
            vector = torch.cat(list(h_n[-dirs:]), dim=1)
        elif head == "mean":
            vector = (outputs * mask).sum(1) / lengths[:, None].float()
        else:
            vector = (outputs * mask + (mask - 1) * 1e9).max(1).values
        return torch.softmax(self.out(vector), dim=-1)


class LanguageModel(nn.Module):
    """Our LanguageModel: one-hot or embedding -> recurrent stack -> linear to vocabulary logits."""

    def __init__(self, config, variant="reset_after"):
        super().__init__()
        self.config = config
        V, E = config["vocabSize"], config["embeddingSize"]
        if E > 0:
            self.embedding = nn.Embedding(V, E)
        self.rnn = recurrent(config, E if E > 0 else V, variant)
        self.out = nn.Linear(config["hiddenSize"] * (2 if config["bidirectional"] else 1), V)

    def forward(self, ids, state=None):
        E, V = self.config["embeddingSize"], self.config["vocabSize"]
        x = self.embedding(ids) if E > 0 else nn.functional.one_hot(ids, V).float()
        out, h, c = run_rnn(self.rnn, x, None, state)
        return self.out(out), h, c


def tokenize(text, tokenizer):
    """A classifier's tokenizer from its metadata: trim, NFC or fold accents, chars or words."""
    text = text.strip()
    if "fold_accents" in tokenizer["normalization"]:
        decomposed = unicodedata.normalize("NFD", text)
        text = "".join(c for c in decomposed if not unicodedata.category(c).startswith("M"))
    else:
        text = unicodedata.normalize("NFC", text)
    return list(text) if tokenizer["token"] == "char" else text.split()


def batch_from_metadata(meta, texts):
    """ids int64 [B, T] (padding past each length) and lengths int32 [B], from metadata alone."""
    ids_of = {token: i for i, token in enumerate(json.loads(meta["vocab"]))}
    tokenizer, pad = json.loads(meta["tokenizer"]), json.loads(meta["padding_id"])
    seqs = [[ids_of.get(t, 0) for t in tokenize(text, tokenizer)] for text in texts]
    T = max(len(s) for s in seqs)
    ids = np.array([s + [pad] * (T - len(s)) for s in seqs], dtype=np.int64)
    return ids, np.array([len(s) for s in seqs], dtype=np.int32)


def classifier_probabilities(path, texts):
    """Label probabilities [B, L] and the metadata of an exported classifier (.onnx or .safetensors)."""
    if path.endswith(".onnx"):
        import onnxruntime as ort

        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        meta = session.get_modelmeta().custom_metadata_map
        ids, lengths = batch_from_metadata(meta, texts)
        return session.run(["probabilities"], {"ids": ids, "lengths": lengths})[0], meta
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(path, "pt") as f:
        meta = f.metadata()
    model = Classifier(json.loads(meta["config"]), meta.get("gru", "reset_after"))
    model.load_state_dict(load_file(path), strict=True)
    ids, lengths = batch_from_metadata(meta, texts)
    with torch.no_grad():
        return model(torch.from_numpy(ids), torch.from_numpy(lengths).long()).numpy(), meta


def predict(args):
    texts = [line.strip() for line in open(args.texts, encoding="utf-8") if line.strip()]
    probs, meta = classifier_probabilities(args.model, texts)
    labels = json.loads(meta["labels"])
    rows = []
    for text, p in zip(texts, probs):
        order = np.argsort(-p)[: min(3, len(labels))]
        rows.append({"text": text, "top": [{"label": labels[k], "probability": float(p[k])} for k in order]})
        if not args.compare:
            print(json.dumps({"event": "predict", **rows[-1]}, ensure_ascii=False))
    if args.compare:
        ours = [json.loads(line) for line in open(args.compare, encoding="utf-8") if line.strip()]
        ours = [r for r in ours if r.get("event") == "predict"]
        assert len(ours) == len(rows), f"{len(ours)} rows to compare, expected {len(rows)}"
        same_top1 = sum(a["top"][0]["label"] == b["top"][0]["label"] for a, b in zip(rows, ours))
        worst = 0.0
        for a, b in zip(rows, ours):
            theirs = {t["label"]: t["probability"] for t in b["top"]}
            for t in a["top"]:
                if t["label"] in theirs:
                    worst = max(worst, abs(t["probability"] - theirs[t["label"]]))
        print(json.dumps({"event": "compare", "model": args.model, "texts": len(rows), "sameTop1": same_top1,
                          "maxProbabilityDiff": worst}))


def lm(args):
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(args.model, "pt") as f:
        meta = f.metadata()
    model = LanguageModel(json.loads(meta["config"]), meta.get("gru", "reset_after"))
    model.load_state_dict(load_file(args.model), strict=True)
    ids = torch.arange(12).reshape(2, 6) % model.config["vocabSize"]
    with torch.no_grad():
        logits, h, _ = model(ids)
    print(json.dumps({"event": "lm", "logits": logits[:, :2, :4].tolist(), "hn": h[:, :, :4].tolist()}))


def train(model, loss_of, steps=40):
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_of()
        loss.backward()
        optimizer.step()


def fixtures(args):
    from safetensors.torch import save_file

    os.makedirs(args.out_dir, exist_ok=True)
    torch.manual_seed(0)
    # An LSTM classifier, 2 layers, bidirectional, trained on random padded sequences.
    config = {"kind": "classifier", "vocabSize": 12, "numLabels": 3, "padId": 1, "cell": "lstm", "embeddingSize": 5,
              "hiddenSize": 4, "layers": 2, "bidirectional": True, "dropout": 0, "head": "last",
              "resetAfter": False, "init": "xavier", "seed": 0, "classWeights": None}
    model = Classifier(config)
    lengths = torch.randint(1, 7, (16,))
    ids = torch.randint(4, 12, (16, 6)).masked_fill(torch.arange(6)[None, :] >= lengths[:, None], 1)
    labels = torch.randint(0, 3, (16,))
    train(model, lambda: nn.functional.nll_loss(torch.log(model(ids, lengths)), labels))
    test_lengths = torch.tensor([3, 1, 5, 2])  # unsorted, with a length 1
    test_ids = torch.randint(4, 12, (4, 5)).masked_fill(torch.arange(5)[None, :] >= test_lengths[:, None], 1)
    with torch.no_grad():
        probs = model(test_ids, test_lengths)
    meta = {"kind": "classifier", "config": json.dumps(config), "padding_id": "1"}
    save_file(model.state_dict(), os.path.join(args.out_dir, "classifier_lstm.safetensors"), metadata=meta)
    with open(os.path.join(args.out_dir, "classifier_lstm.json"), "w") as f:
        json.dump({"ids": test_ids.tolist(), "lengths": test_lengths.tolist(), "probabilities": probs.tolist()}, f)
    # A GRU language model (nn.GRU: reset-after), 2 layers, with an embedding.
    config = {"vocabSize": 9, "cell": "gru", "hiddenSize": 5, "layers": 2, "bidirectional": False, "dropout": 0,
              "embeddingSize": 4, "nonlinearity": "tanh", "resetAfter": True, "init": "normal", "seed": 0}
    model = LanguageModel(config)
    data = torch.randint(0, 9, (8, 7))
    train(model, lambda: nn.functional.cross_entropy(model(data[:, :-1])[0].reshape(-1, 9), data[:, 1:].reshape(-1)))
    test_ids = torch.randint(0, 9, (3, 4))
    with torch.no_grad():
        logits, h_n, _ = model(test_ids)
    meta = {"kind": "lm", "config": json.dumps(config), "gru": "reset_after"}
    save_file(model.state_dict(), os.path.join(args.out_dir, "lm_gru.safetensors"), metadata=meta)
    with open(os.path.join(args.out_dir, "lm_gru.json"), "w") as f:
        json.dump({"ids": test_ids.tolist(), "logits": logits.tolist(), "h_n": h_n.tolist()}, f)
    print(f"wrote {args.out_dir}: classifier_lstm.*, lm_gru.* (torch {torch.__version__})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict")
    p.add_argument("model")
    p.add_argument("texts")
    p.add_argument("--compare")
    p.set_defaults(run=predict)
    p = sub.add_parser("lm")
    p.add_argument("model")
    p.set_defaults(run=lm)
    p = sub.add_parser("fixtures")
    p.add_argument("out_dir")
    p.set_defaults(run=fixtures)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    sys.exit(main())
