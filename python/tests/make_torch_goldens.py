"""Make the torch.nn.LSTM goldens in python/tests/goldens (committed; the tests need no torch).

    python python/tests/make_torch_goldens.py      # torch 2.x, numpy

Each case is an .npz with the module's state_dict (keys "sd.<name>"), the input x, h0 and c0,
the outputs y, h_n and c_n of the module in float64 (the module is built in double precision,
and its weights and inputs are float32 values, so the goldens are the exact function of the
float32 data), and the constructor's arguments as "args.<name>". The shapes are not multiples
of the engine's workgroup sizes.
"""

from pathlib import Path

import numpy as np
import torch

OUT = Path(__file__).resolve().parent / "goldens"

CASES = {
    # name: nn.LSTM arguments, (T, B)
    "one_layer": (dict(input_size=5, hidden_size=7), (9, 3)),
    "two_layers_bidirectional_batch_first": (
        dict(input_size=6, hidden_size=11, num_layers=2, bidirectional=True, batch_first=True),
        (13, 5),
    ),
    "projection": (dict(input_size=4, hidden_size=9, num_layers=2, proj_size=3), (17, 2)),
    "no_bias": (dict(input_size=3, hidden_size=33, bias=False), (7, 1)),
}


def main():
    OUT.mkdir(exist_ok=True)
    for name, (args, (t, b)) in CASES.items():
        torch.manual_seed(sum(map(ord, name)))
        lstm = torch.nn.LSTM(**args)
        # float32 weights, evaluated in float64.
        sd32 = {k: v.detach().float() for k, v in lstm.state_dict().items()}
        lstm = lstm.double()
        lstm.load_state_dict({k: v.double() for k, v in sd32.items()})
        d = 2 if args.get("bidirectional") else 1
        layers = args.get("num_layers", 1)
        hidden = args["hidden_size"]
        proj = args.get("proj_size", 0) or hidden
        x_shape = (b, t, args["input_size"]) if args.get("batch_first") else (t, b, args["input_size"])
        x = torch.rand(x_shape, dtype=torch.float32) * 2 - 1
        h0 = torch.rand((layers * d, b, proj), dtype=torch.float32) * 2 - 1
        c0 = torch.rand((layers * d, b, hidden), dtype=torch.float32) * 2 - 1
        with torch.no_grad():
            y, (h_n, c_n) = lstm(x.double(), (h0.double(), c0.double()))
        arrays = {f"sd.{k}": v.numpy() for k, v in sd32.items()}
        arrays.update(
            x=x.numpy(), h0=h0.numpy(), c0=c0.numpy(),
            y=y.numpy(), h_n=h_n.numpy(), c_n=c_n.numpy(),
        )
        arrays.update({f"args.{k}": np.asarray(v) for k, v in args.items()})
        np.savez(OUT / f"{name}.npz", **arrays)
        print(name, {k: v.shape for k, v in arrays.items() if not k.startswith("args.")})


if __name__ == "__main__":
    main()
