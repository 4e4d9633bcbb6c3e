#!/usr/bin/env python3
"""PyTorch peer of `deno task classify`: the same model on the same split.

Reads the labelled folder the way lib/supervised/labelled.ts does (sorted
<label>.txt files, trimmed non-blank lines, NFC or folded accents, char
tokens), takes the split a Deno run recorded (`split.json` in its run
directory) so both models see the same train / valid / test examples, builds
the vocabulary from the training split with the same ids (<unk> 0, <pad> 1,
<bos> 2, <eos> 3, then by frequency, ties in first-seen order), and trains
embedding -> nn.GRU/LSTM/RNN over packed sequences -> final state of the last
layer (both directions) or mean/max pooling -> dropout -> Linear, with Adam,
gradient clipping and length-bucketed minibatches. The epoch with the best
validation macro-F1 is scored on the test split.

Prints one JSON object per line: an "epoch" row per epoch, then an "evaluate"
row for the test split ({"split","accuracy","balancedAccuracy","macroF1",
"examples"}), plus "examplesPerSec" (training examples per second, the speed
the bench compares). Needs only torch (Debian's python3-torch 1.13 works).

    /usr/bin/python3 scripts/torch_classify.py --split runs/classify/split.json
"""
import argparse
import json
import math
import os
import random
import sys
import time
import unicodedata

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def read_folder(path):
    files = sorted(f for f in os.listdir(path) if f.endswith(".txt"))
    labels, examples = [], []
    for label, name in enumerate(files):
        labels.append(name[: -len(".txt")])
        with open(os.path.join(path, name), encoding="utf-8") as f:
            for line in f.read().splitlines():
                line = line.strip()
                if line:
                    examples.append((line, label))
    return labels, examples


def tokens(text, fold):
    if fold:
        text = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.category(c).startswith("M"))
    else:
        text = unicodedata.normalize("NFC", text)
    return list(text)


def build_vocab(texts, fold):
    counts = {}
    for text in texts:
        for t in tokens(text, fold):
            counts[t] = counts.get(t, 0) + 1
    ordered = sorted(counts.items(), key=lambda kv: -kv[1])  # stable: ties keep first-seen order
    itos = ["<unk>", "<pad>", "<bos>", "<eos>"] + [t for t, _ in ordered]
    return {t: i for i, t in enumerate(itos)}


class Classifier(nn.Module):
    def __init__(self, args, vocab_size, num_labels):
        super().__init__()
        self.head = args.head
        self.embedding = nn.Embedding(vocab_size, args.embedding_size, padding_idx=1)
        rnn = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[args.cell]
        self.rnn = rnn(args.embedding_size, args.hidden_size, num_layers=args.layers,
                       bidirectional=args.bidirectional, dropout=args.dropout if args.layers > 1 else 0)
        self.dirs = 2 if args.bidirectional else 1
        self.drop = nn.Dropout(args.dropout)
        self.out = nn.Linear(args.hidden_size * self.dirs, num_labels)

    def forward(self, ids, lengths):  # ids [T, B], lengths [B] (cpu int64)
        xs = self.embedding(ids)  # [T, B, E]
        packed = pack_padded_sequence(xs, lengths, enforce_sorted=False)
        outputs, state = self.rnn(packed)
        if self.head == "last":
            h = state[0] if isinstance(state, tuple) else state  # [layers * dirs, B, H]
            vector = torch.cat([h[-self.dirs + d] for d in range(self.dirs)], dim=1)  # [B, H * dirs]
        else:
            padded, _ = pad_packed_sequence(outputs, padding_value=0.0)  # [T, B, H * dirs]
            mask = (torch.arange(padded.shape[0])[:, None] < lengths[None, :]).unsqueeze(2).float()
            if self.head == "mean":
                vector = (padded * mask).sum(0) / lengths[:, None].float()
            else:
                vector = (padded * mask + (mask - 1) * 1e9).max(0).values
        return self.out(self.drop(vector))  # [B, L]


def bucket_batches(indices, lengths, batch_size, rng=None, pool_batches=50):
    order = list(indices)
    if rng is not None:
        rng.shuffle(order)
    pool = batch_size * pool_batches if rng is not None else len(order)
    batches = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start:start + pool], key=lambda i: lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    if rng is not None:
        rng.shuffle(batches)
    return batches


def make_batch(seqs, labels, batch):
    T = max(len(seqs[i]) for i in batch)
    ids = torch.full((T, len(batch)), 1, dtype=torch.long)
    for b, i in enumerate(batch):
        ids[: len(seqs[i]), b] = torch.tensor(seqs[i])
    lengths = torch.tensor([len(seqs[i]) for i in batch], dtype=torch.long)
    return ids, lengths, torch.tensor([labels[i] for i in batch], dtype=torch.long)


def metrics(truth, pred, num_labels):
    confusion = [[0] * num_labels for _ in range(num_labels)]
    for t, p in zip(truth, pred):
        confusion[t][p] += 1
    recalls, f1s = [], []
    for k in range(num_labels):
        tp = confusion[k][k]
        support = sum(confusion[k])
        predicted = sum(row[k] for row in confusion)
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        if support:  # macro averages over the labels present in the truth, as the Deno side
            recalls.append(recall)
            f1s.append(f1)
    correct = sum(confusion[k][k] for k in range(num_labels))
    return {"accuracy": correct / len(truth), "balancedAccuracy": sum(recalls) / len(recalls),
            "macroF1": sum(f1s) / len(f1s), "examples": len(truth)}


def evaluate(model, seqs, labels, indices, batch_size):
    model.eval()
    truth, pred = [], []
    with torch.no_grad():
        for batch in bucket_batches(indices, [len(s) for s in seqs], batch_size):
            ids, lengths, y = make_batch(seqs, labels, batch)
            pred += model(ids, lengths).argmax(1).tolist()
            truth += y.tolist()
    return truth, pred


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="data/names")
    p.add_argument("--split", required=True, help="split.json written by deno task classify")
    p.add_argument("--cell", default="gru", choices=["rnn", "gru", "lstm"])
    p.add_argument("--embedding-size", type=int, default=32)
    p.add_argument("--hidden-size", type=int, default=128)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--bidirectional", action="store_true")
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--head", default="last", choices=["last", "mean", "max"])
    p.add_argument("--class-weights", action="store_true")
    p.add_argument("--fold-accents", action="store_true")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=0.003)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max-batches", type=int, default=0, help="stop each epoch after N batches (bench)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    labels, examples = read_folder(args.data)
    with open(args.split) as f:
        split = json.load(f)
    # Repeats of a (text, label) pair that the Deno split dropped train in neither.
    held = set(split["valid"]) | set(split["test"]) | set(split.get("dropped", []))
    train_idx = [i for i in range(len(examples)) if i not in held]
    vocab = build_vocab([examples[i][0] for i in train_idx], args.fold_accents)
    seqs = [[vocab.get(t, 0) for t in tokens(text, args.fold_accents)] for text, _ in examples]
    ys = [label for _, label in examples]
    model = Classifier(args, len(vocab), len(labels))
    weight = None
    if args.class_weights:
        counts = [0] * len(labels)
        for i in train_idx:
            counts[ys[i]] += 1
        weight = torch.tensor([len(train_idx) / (len(labels) * n) if n else 1.0 for n in counts])
    loss_fn = nn.CrossEntropyLoss(weight=weight)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    rng = random.Random(args.seed)
    lengths = [len(s) for s in seqs]
    best, best_state = -1.0, None
    for epoch in range(1, args.epochs + 1):
        model.train()
        seen, loss_sum, seconds = 0, 0.0, 0.0
        batches = bucket_batches(train_idx, lengths, args.batch_size, rng)
        if args.max_batches:
            batches = batches[: args.max_batches]
        for batch in batches:
            start = time.perf_counter()
            ids, lens, y = make_batch(seqs, ys, batch)
            loss = loss_fn(model(ids, lens), y)
            optimizer.zero_grad()
            loss.backward()
            if args.clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            seconds += time.perf_counter() - start
            seen += len(batch)
            loss_sum += loss.item() * len(batch)
        valid = metrics(*evaluate(model, seqs, ys, split["valid"], 256), len(labels))
        row = {"event": "epoch", "impl": "torch", "epoch": epoch, "trainLoss": loss_sum / seen,
               "examplesPerSec": seen / seconds, "validAccuracy": valid["accuracy"],
               "validMacroF1": valid["macroF1"]}
        print(json.dumps(row), flush=True)
        if valid["macroF1"] > best:
            best = valid["macroF1"]
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    test = metrics(*evaluate(model, seqs, ys, split["test"], 256), len(labels))
    print(json.dumps({"event": "evaluate", "impl": "torch", "split": "test", **test,
                      "torch": torch.__version__}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
