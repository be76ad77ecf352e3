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
- `stats`, `reports`: confidence intervals and t-tests; plots, Markdown
  tables and summary.md.
- `autoencoder`, `classification` (with `classification_report`),
  `segmentation`, `clustering`, `sparse_coding`, `profile_figures` (with
  `architectures`): one module per experiment of the paper.
- `arguments`, `loading`, `script_setup`: what the example scripts share
  (command-line options, data loading, quiet start-up, the run sequence).
"""
