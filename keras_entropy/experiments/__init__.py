"""The experiment harness: the paper's experiments as functions, and what runs them.

Nothing in the core (`keras_entropy.ops`, the penalties, layers, loss,
profiles, monitor and placement) imports this package; it builds on them.
See docs/design.md for the package map.

- `datasets`: the paper's data sets as numpy arrays (tensorflow-datasets or
  a local copy; an embedded MNIST subset ships in `data/`); `images`: images
  as model inputs.
- `paper`: the paper's settings of every experiment (`*_PAPER`, the lambda grid).
- `runs`: one training run: its stopping rule, record fields and runtime.
- `sweeps`: grids of runs, one JSON line per finished run, resume.
- `stats`, `survival`: confidence intervals, t-tests, Benjamini-Hochberg;
  epochs to a target as censored data.
- `analysis`, `figures`: the one analysis path, from run records to tables
  and sentences (`analysis`) and to figures (`figures`), for the paper's
  sweeps, the tuned studies and the README's first command.
- `autoencoder`, `classification`, `autoencoder_study`, `cnn_study`,
  `segmentation`, `clustering`, `sparse_coding`, `profile_figures` (with
  `architectures`): one module per experiment of the paper.
- `loading`, `script_setup`: what the example scripts share (data for
  `--dataset/--data-dir/--quick`, quiet start-up, the run sequence, one-line
  errors).
"""
