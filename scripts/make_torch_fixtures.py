"""Makes the PyTorch reference fixtures in data/fixtures/torch/.

Each fixture is a small nn.RNN / nn.GRU / nn.LSTM (time-major, batch_first
False) with its state_dict, an input, the initial state and what PyTorch
computes from them: output, h_n (and c_n). tests/cells/torch_test.ts loads the
state_dict with loadTorchStateDict() and must reproduce the numbers to 1e-5,
without needing torch.

Weights and inputs are drawn in float32 (PyTorch's default initialisation,
U(-1/sqrt(H), 1/sqrt(H))), then the module runs in float64, so the expected
numbers are exact for the float32 values stored in the file.

Run from the project root:  /usr/bin/python3 scripts/make_torch_fixtures.py
(made with torch 1.13; any recent version gives the same numbers to ~1e-12)
"""
import json
import os

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "fixtures", "torch")

# name: (module class, kind, extra kwargs, input size, hidden size, layers, bidirectional, T, B)
FIXTURES = {
    "rnn_tanh_2layer": (torch.nn.RNN, "rnn", {"nonlinearity": "tanh"}, 3, 4, 2, False, 5, 2),
    "rnn_relu_bidirectional": (torch.nn.RNN, "rnn", {"nonlinearity": "relu"}, 3, 4, 1, True, 4, 3),
    "gru_2layer_bidirectional": (torch.nn.GRU, "gru", {}, 3, 4, 2, True, 5, 2),
    "lstm_2layer_bidirectional": (torch.nn.LSTM, "lstm", {}, 3, 5, 2, True, 4, 2),
    "lstm_2layer_batch1_step1": (torch.nn.LSTM, "lstm", {}, 2, 3, 2, False, 1, 1),
}


def module_call(cls, kwargs, D, H, layers, bidirectional):
    """The module as its constructor call, for a fixture's description."""
    extra = "".join(f", {k}={v!r}" for k, v in kwargs.items())
    return (
        f"torch.nn.{cls.__name__}({D}, {H}, num_layers={layers}, "
        f"bidirectional={bidirectional}{extra})"
    )


def shape_fields(kind, kwargs, D, H, layers, bidirectional):
    """The fixture fields that say which stack a test must build."""
    return {
        "kind": kind,
        "inputSize": D,
        "hiddenSize": H,
        "layers": layers,
        "bidirectional": bidirectional,
        "nonlinearity": kwargs.get("nonlinearity"),
    }


def rounded(t):
    """A tensor as nested lists of Python floats."""
    return t.detach().double().tolist()


def make(name, spec, seed):
    cls, kind, kwargs, D, H, layers, bidirectional, T, B = spec
    torch.manual_seed(seed)
    module = cls(D, H, num_layers=layers, bidirectional=bidirectional, **kwargs)
    directions = 2 if bidirectional else 1
    x = torch.randn(T, B, D)
    h0 = 0.5 * torch.randn(layers * directions, B, H)
    c0 = torch.randn(layers * directions, B, H)
    module = module.double()
    with torch.no_grad():
        if kind == "lstm":
            output, (h_n, c_n) = module(x.double(), (h0.double(), c0.double()))
        else:
            output, h_n = module(x.double(), h0.double())
    fixture = {
        "description": f"{module_call(cls, kwargs, D, H, layers, bidirectional)}, "
        f"seed {seed}, made by scripts/make_torch_fixtures.py with torch {torch.__version__}",
        **shape_fields(kind, kwargs, D, H, layers, bidirectional),
        "stateDict": {k: rounded(v) for k, v in module.state_dict().items()},
        "input": rounded(x),
        "h0": rounded(h0),
        "output": rounded(output),
        "h_n": rounded(h_n),
    }
    if kind == "lstm":
        fixture["c0"] = rounded(c0)
        fixture["c_n"] = rounded(c_n)
    return fixture


def write_fixtures(fixtures, make_one):
    """Writes OUT/<name>.json for each fixture, made by make_one(name, spec, seed), seeds 0, 1, ..."""
    os.makedirs(OUT, exist_ok=True)
    for seed, (name, spec) in enumerate(fixtures.items()):
        path = os.path.join(OUT, f"{name}.json")
        with open(path, "w") as f:
            json.dump(make_one(name, spec, seed), f, indent=None)
            f.write("\n")
        print(path)


def main():
    write_fixtures(FIXTURES, make)


if __name__ == "__main__":
    main()
