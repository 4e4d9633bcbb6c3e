"""Makes the packed-sequence PyTorch fixtures in data/fixtures/torch/packed_*.json.

Each fixture is a small nn.RNN / nn.GRU / nn.LSTM (time-major) run over a
variable-length batch the PyTorch way: pack_padded_sequence(enforce_sorted=
False), the module, pad_packed_sequence back. tests/layers/lengths_test.ts
loads the state_dict with loadTorchStateDict(), runs the same padded input with
`lengths` and must reproduce output, h_n (and c_n) to 1e-5, without torch.

The lengths are unsorted ([7, 3, 1, 5], T = 7) so the fixture also pins the
order of h_n (batch order, not sorted order). The padded steps of the stored
input hold large non-zero garbage (normals times 1e3): PyTorch never reads
them, so an implementation that does would not match. The initial state is
zeros (what a packed run starts from when no h0 is given), except in the
`_h0` fixture, which gives h0 and c0 in batch order.

Weights and inputs are drawn in float32 (PyTorch's default initialisation),
then the module runs in float64, so the expected numbers are exact for the
float32 values stored in the file.

Run from the project root:  /usr/bin/python3 scripts/make_packed_fixtures.py
(made with torch 1.13; any recent version gives the same numbers to ~1e-12)
"""

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

# The sibling script: one description, field list and writer for both.
from make_torch_fixtures import module_call, shape_fields, write_fixtures


LENGTHS = [7, 3, 1, 5]
GARBAGE = 1e3

# name: (module class, kind, extra kwargs, input size, hidden size, layers, bidirectional,
#        whether an initial state is given)
FIXTURES = {
    "packed_gru_2layer_bidirectional": (torch.nn.GRU, "gru", {}, 3, 4, 2, True, False),
    "packed_lstm_2layer_bidirectional": (torch.nn.LSTM, "lstm", {}, 3, 5, 2, True, False),
    "packed_rnn_tanh": (torch.nn.RNN, "rnn", {"nonlinearity": "tanh"}, 3, 4, 1, False, False),
    "packed_lstm_bidirectional_h0": (torch.nn.LSTM, "lstm", {}, 3, 4, 1, True, True),
}


def as_lists(t):
    """A tensor as nested lists of Python floats."""
    return t.detach().double().tolist()


def make(spec, seed):
    cls, kind, kwargs, D, H, layers, bidirectional, given = spec
    torch.manual_seed(1000 + seed)
    module = cls(D, H, num_layers=layers, bidirectional=bidirectional, **kwargs)
    T, B = max(LENGTHS), len(LENGTHS)
    x = torch.randn(T, B, D)
    garbage = GARBAGE * torch.randn(T, B, D)
    for b, n in enumerate(LENGTHS):
        x[n:, b] = garbage[n:, b]
    directions = 2 if bidirectional else 1
    # In batch order: PyTorch sorts it along with the packed batch and back.
    h0 = 0.5 * torch.randn(layers * directions, B, H)
    c0 = torch.randn(layers * directions, B, H)
    module = module.double()
    lengths = torch.tensor(LENGTHS)
    with torch.no_grad():
        packed = pack_padded_sequence(x.double(), lengths, enforce_sorted=False)
        if kind == "lstm":
            start = (h0.double(), c0.double()) if given else None
            packed_out, (h_n, c_n) = module(packed, start)
        else:
            packed_out, h_n = module(packed, h0.double() if given else None)
        output, out_lengths = pad_packed_sequence(packed_out, total_length=T)
    assert out_lengths.tolist() == LENGTHS
    for b, n in enumerate(LENGTHS):
        assert torch.all(output[n:, b] == 0), "padded outputs are zero"
    fixture = {
        "description": f"{module_call(cls, kwargs, D, H, layers, bidirectional)} "
        f"over pack_padded_sequence(lengths={LENGTHS}, enforce_sorted=False), "
        f"{'a given' if given else 'zero'} initial state, "
        f"garbage x{GARBAGE:g} in the padded steps, seed {1000 + seed}, "
        f"made by scripts/make_packed_fixtures.py with torch {torch.__version__}",
        **shape_fields(kind, kwargs, D, H, layers, bidirectional),
        "lengths": LENGTHS,
        "stateDict": {k: as_lists(v) for k, v in module.state_dict().items()},
        "input": as_lists(x),
        "output": as_lists(output),
        "h_n": as_lists(h_n),
    }
    if kind == "lstm":
        fixture["c_n"] = as_lists(c_n)
    if given:
        fixture["h0"] = as_lists(h0)
        if kind == "lstm":
            fixture["c0"] = as_lists(c0)
    return fixture


def main():
    write_fixtures(FIXTURES, lambda name, spec, seed: make(spec, seed))


if __name__ == "__main__":
    main()
