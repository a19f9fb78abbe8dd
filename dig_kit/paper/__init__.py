"""The paper layer: everything that turns runs into the DiG paper's figures and tables.

The core (``dig_kit`` minus this package) never imports it; only ``dig_kit.cli`` does, for
``dig-kit reproduce``. Notebooks, tests and benchmarks may.

- :mod:`.pipeline`: ``dig-kit reproduce``, the notebooks in order with papermill
- :mod:`.ablations`: curriculum and reward-component ablation drivers (Table 4, slides)
- :mod:`.artifacts`: which notebook run made each figure/table (``figures/index.md``)
- :mod:`.figures`: figure style and saving (PDF + PNG, source notes), tables (CSV/MD/LaTeX)
- :mod:`.gallery`: Fig. 7 pair grids and the pair browser widget
- :mod:`.dynamics`: Figs. 8-10 training dynamics and the curve viewer widget
- :mod:`.published`: the paper's and slides' published numbers, labelled
- :mod:`.tables`: Tables 1-3 (measured rows beside published ones)
- :mod:`.reward_sanity`, :mod:`.synthetic_outputs`, :mod:`.case_study`: reward sanity studies
- :mod:`.benchmark_fixtures`: tiny benchmark files in the real formats for smoke runs
- :mod:`.twin_report`: the TWIN figure and ablation table
"""
