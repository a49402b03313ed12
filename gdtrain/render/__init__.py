"""What gdtrain shows a person, one module per thing shown. The library never prints: training emits records
(the start of a run, each epoch, the summary), a race its events and standings, the catalog its entries, and the
modules here turn them into text on a rich Console, so a notebook, the CLI and compare-optimizers share one
training loop.

- terminal.py: the console itself: plain output when piped (CI, NO_COLOR), ASCII spellings where Unicode cannot
  be encoded, a closed pipe survived; numbers as text (``fmt``); text charts in colour;
- describe.py: a config in words ('sgd(lr=0.1, momentum=0.9), mini-batch 32, 40 epochs'), for every header;
- fit.py and epoch_line.py: ``gdtrain fit``: the header, the epoch lines, the layer table, the summary;
- landscape.py: ``fit`` and ``compare-optimizers`` on a 2-D test function: the path over the contour map;
- gradcheck.py: ``gdtrain gradcheck``'s tables and hint;
- evaluation.py: ``gdtrain evaluate``, ``predict`` and ``plot`` of a run;
- race.py: ``gdtrain compare-optimizers``, and a race directory drawn again (``gdtrain plot DIR``);
- sweep.py: ``gdtrain sweep``, and a sweep directory drawn again;
- catalog.py: ``list``, ``explain``, ``init``, ``validate`` and ``schema``.

Nothing is imported here, so that ``gdtrain.render.describe`` (imported by the library) loads no rich.
"""
