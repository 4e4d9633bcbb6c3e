"""PyTorch peer of `deno task translate`'s d2l parity configuration.

d2l 2nd ed. §10.7 (Seq2SeqEncoder/Seq2SeqDecoder) and §11.4
(Seq2SeqAttentionDecoder with AdditiveAttention), written from the book's
description: 2-layer GRU, embedding 256, hidden 256, dropout 0.2, the first
512 pairs train and the next 128 validate, every side cut or padded to 9
steps (with <eos>), vocabularies with min_freq 2 over those 640 pairs,
batch 128, Adam 0.005, gradient clipping 1, xavier init (init_seq2seq).

Prints one JSON object per line: {"event":"epoch",...} and a final
{"event":"evaluate",...} with the validation loss (mean cross-entropy per
target token, <pad> excluded), the four d2l sentences translated greedily
with d2l's BLEU (k=2), and the training speed in target tokens per second.

    /usr/bin/python3 scripts/torch_seq2seq.py --attention none --epochs 30
    /usr/bin/python3 scripts/torch_seq2seq.py --attention additive --epochs 50
"""
import argparse
import collections
import json
import math
import sys
import time

import torch
from torch import nn
from torch.nn import functional as F


def preprocess(text):
    text = text.replace("\u202f", " ").replace("\xa0", " ").lower()
    out = [" " + c if i > 0 and c in ",.!?" and text[i - 1] != " " else c for i, c in enumerate(text)]
    return "".join(out)


def load_pairs(path, limit):
    src, tgt = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 2:
                continue
            src.append([t for t in (preprocess(parts[0]) + " <eos>").split(" ") if t])
            tgt.append([t for t in (preprocess(parts[1]) + " <eos>").split(" ") if t])
            if len(src) == limit:
                break
    return src, tgt


class Vocab:
    def __init__(self, sentences, min_freq):
        counts = collections.Counter(t for s in sentences for t in s)
        tokens = ["<unk>", "<pad>", "<bos>", "<eos>"]
        for t, n in sorted(counts.items(), key=lambda kv: kv[1], reverse=True):
            if n >= min_freq and t not in tokens:
                tokens.append(t)
        self.tokens = tokens
        self.ids = {t: i for i, t in enumerate(tokens)}

    def __getitem__(self, t):
        return self.ids.get(t, 0)


def pad_or_trim(s, n):
    return s[:n] if len(s) > n else s + ["<pad>"] * (n - len(s))


def arrays(src, tgt, vs, vt, n):
    src = [pad_or_trim(s, n) for s in src]
    tgt = [["<bos>"] + pad_or_trim(s, n) for s in tgt]
    X = torch.tensor([[vs[t] for t in s] for s in src])
    Y = torch.tensor([[vt[t] for t in s] for s in tgt])
    return X, (X != vs["<pad>"]).sum(1), Y[:, :-1], Y[:, 1:]


def init_seq2seq(module):
    if type(module) == nn.Linear:
        nn.init.xavier_uniform_(module.weight)
    if type(module) == nn.GRU:
        for name in module._flat_weights_names:
            if "weight" in name:
                nn.init.xavier_uniform_(module._parameters[name])


class Encoder(nn.Module):
    def __init__(self, V, E, H, L, dropout, packed):
        super().__init__()
        self.embedding = nn.Embedding(V, E)
        self.rnn = nn.GRU(E, H, L, dropout=dropout)
        self.packed = packed

    def forward(self, X, lengths):
        embs = self.embedding(X.t())  # [S, B, E]
        if self.packed:
            packed = nn.utils.rnn.pack_padded_sequence(embs, lengths.cpu(), enforce_sorted=False)
            out, state = self.rnn(packed)
            out, _ = nn.utils.rnn.pad_packed_sequence(out, total_length=embs.shape[0])
            return out, state
        return self.rnn(embs)


class AdditiveAttention(nn.Module):
    def __init__(self, H, dropout):
        super().__init__()
        self.W_k = nn.Linear(H, H, bias=False)
        self.W_q = nn.Linear(H, H, bias=False)
        self.w_v = nn.Linear(H, 1, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, q, k, v, valid_lens):
        features = torch.tanh(self.W_q(q).unsqueeze(2) + self.W_k(k).unsqueeze(1))
        scores = self.w_v(features).squeeze(-1)  # [B, Q, K]
        mask = torch.arange(scores.shape[-1])[None, None, :] < valid_lens[:, None, None]
        scores = scores.masked_fill(~mask, -1e6)
        self.weights = F.softmax(scores, dim=-1)
        return torch.bmm(self.dropout(self.weights), v)


class Decoder(nn.Module):
    def __init__(self, V, E, H, L, dropout, attention):
        super().__init__()
        self.embedding = nn.Embedding(V, E)
        self.rnn = nn.GRU(E + H, H, L, dropout=dropout)
        self.dense = nn.Linear(H, V)
        self.attention = AdditiveAttention(H, dropout) if attention else None

    def forward(self, Y, state):
        enc_out, hidden, lens = state  # enc_out [S, B, H]
        embs = self.embedding(Y.t())  # [T, B, E]
        if self.attention is None:
            # context: the top layer's last output (final state when packed)
            context = hidden[-1].unsqueeze(0).expand(embs.shape[0], -1, -1)
            out, hidden = self.rnn(torch.cat((embs, context), -1), hidden)
        else:
            keys = enc_out.permute(1, 0, 2)
            outs = []
            for x in embs:
                ctx = self.attention(hidden[-1].unsqueeze(1), keys, keys, lens)  # [B, 1, H]
                o, hidden = self.rnn(torch.cat((ctx, x.unsqueeze(1)), -1).permute(1, 0, 2), hidden)
                outs.append(o)
            out = torch.cat(outs, 0)
        return self.dense(out).permute(1, 0, 2), (enc_out, hidden, lens)


class Seq2Seq(nn.Module):
    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def forward(self, X, lens, Y):
        enc_out, hidden = self.encoder(X, lens)
        return self.decoder(Y, (enc_out, hidden, lens))[0]


def masked_loss(logits, labels, pad):
    l = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction="none")
    mask = (labels.reshape(-1) != pad).float()
    return (l * mask).sum() / mask.sum(), mask.sum().item()


def bleu(pred_seq, label_seq, k):
    pred, label = pred_seq.split(" "), label_seq.split(" ")
    score = math.exp(min(0, 1 - len(label) / len(pred)))
    for n in range(1, min(k, len(pred)) + 1):
        matches, subs = 0, collections.defaultdict(int)
        for i in range(len(label) - n + 1):
            subs[" ".join(label[i:i + n])] += 1
        for i in range(len(pred) - n + 1):
            if subs[" ".join(pred[i:i + n])] > 0:
                matches += 1
                subs[" ".join(pred[i:i + n])] -= 1
        score *= math.pow(matches / (len(pred) - n + 1), math.pow(0.5, n))
    return score


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="data/fra-eng/fra.txt")
    p.add_argument("--attention", choices=["none", "additive"], default="none")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--packed", action="store_true", help="encoder reads packed sequences (as rnn-deno does)")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    epochs = args.epochs or (30 if args.attention == "none" else 50)
    n_steps, n_train, n_valid = 9, 512, 128
    src, tgt = load_pairs(args.data, n_train + n_valid)
    vs = Vocab([pad_or_trim(s, n_steps) for s in src], 2)
    vt = Vocab([["<bos>"] + pad_or_trim(s, n_steps) for s in tgt], 2)
    X, XL, Yin, Yout = arrays(src, tgt, vs, vt, n_steps)
    train = [a[:n_train] for a in (X, XL, Yin, Yout)]
    valid = [a[n_train:] for a in (X, XL, Yin, Yout)]
    model = Seq2Seq(Encoder(len(vs.tokens), 256, 256, 2, 0.2, args.packed),
                    Decoder(len(vt.tokens), 256, 256, 2, 0.2, args.attention != "none"))
    model.apply(init_seq2seq)
    opt = torch.optim.Adam(model.parameters(), lr=0.005)
    pad = vt["<pad>"]
    tokens, seconds = 0, 0.0
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(n_train)
        total, count = 0.0, 0
        start = time.perf_counter()
        for i in range(0, n_train, 128):
            idx = perm[i:i + 128]
            Xb, Lb, Yi, Yo = (a[idx] for a in train)
            loss, n = masked_loss(model(Xb, Lb, Yi), Yo, pad)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1)
            opt.step()
            total += loss.item() * n
            count += n
        seconds += time.perf_counter() - start
        tokens += count
        model.eval()
        with torch.no_grad():
            vloss, _ = masked_loss(model(valid[0], valid[1], valid[2]), valid[3], pad)
        print(json.dumps({"event": "epoch", "epoch": epoch + 1, "trainLoss": total / count,
                          "validLoss": vloss.item()}), flush=True)
    engs = ["go .", "i lost .", "he's calm .", "i'm home ."]
    fras = ["va !", "j'ai perdu .", "il est calme .", "je suis chez moi ."]
    Xs, Ls, _, _ = arrays([[t for t in (e + " <eos>").split(" ")] for e in engs],
                          [[t for t in (f + " <eos>").split(" ")] for f in fras], vs, vt, n_steps)
    examples = []
    with torch.no_grad():
        enc_out, hidden = model.encoder(Xs, Ls)
        state = (enc_out, hidden, Ls)
        y = torch.full((len(engs), 1), vt["<bos>"])
        outs = []
        for _ in range(n_steps):
            logits, state = model.decoder(y, state)
            y = logits.argmax(2)
            outs.append(y)
        preds = torch.cat(outs, 1)
    for en, fr, row in zip(engs, fras, preds.tolist()):
        words = []
        for i in row:
            if vt.tokens[i] == "<eos>":
                break
            words.append(vt.tokens[i])
        examples.append({"source": en, "translation": " ".join(words), "reference": fr,
                         "bleu": bleu(" ".join(words), fr, 2)})
    print(json.dumps({"event": "evaluate", "split": "valid", "validLoss": vloss.item(),
                      "attention": args.attention, "packed": args.packed, "epochs": epochs,
                      "targetTokensPerSecond": tokens / seconds, "threads": torch.get_num_threads(),
                      "examples": examples}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
