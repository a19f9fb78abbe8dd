"""JupyterLab saves the kit's own notebooks without outputs (a Jupyter server pre-save hook).

The nbstripout git filter (``.gitattributes``, ``scripts/git-filters.sh``) keeps outputs out of
commits, but git decides "modified" from the file's size before it runs any filter, so a notebook
saved with outputs would still show in ``git status``. ``scripts/setup.sh`` therefore also
registers :func:`strip_on_save` with the Jupyter server of ``.venv``: a notebook under
``<checkout>/notebooks/`` is written exactly as git stores it (outputs, execution counts and
run-specific metadata dropped by nbstripout's own function, the same one the filter runs), so
saving or autosaving leaves ``git status`` clean. Outputs stay on screen for the session; a
notebook anywhere else (your own copies) is saved untouched.
"""

from __future__ import annotations

from pathlib import Path

from dig_kit.paths import is_checkout

# the kernel fills these in; the committed notebooks keep only metadata.language_info.name.
# scripts/git-filters.sh gives the filter the same list (git config filter.nbstripout.extrakeys).
LANGUAGE_INFO_KEYS = [f"metadata.language_info.{k}" for k in
                      ("codemirror_mode", "file_extension", "mimetype", "nbconvert_exporter", "pygments_lexer",
                       "version")]
# nbstripout's command line strips these by default; its strip_output function needs them named
DEFAULT_KEYS = ["metadata.signature", "metadata.widgets", "cell.metadata.collapsed", "cell.metadata.ExecuteTime",
                "cell.metadata.execution", "cell.metadata.heading_collapsed", "cell.metadata.hidden",
                "cell.metadata.scrolled"]


def is_kit_notebook(path: str | Path) -> bool:
    """True for ``<dig-kit checkout>/notebooks/*.ipynb``."""
    p = Path(path).resolve()
    return p.suffix == ".ipynb" and p.parent.name == "notebooks" and is_checkout(p.parent.parent)


def strip(nb):
    """The notebook as git stores it (nbstripout with the filter's settings)."""
    import nbformat
    from nbstripout import strip_output

    node = nbformat.from_dict(nb)
    return strip_output(node, keep_output=False, keep_count=False, keep_id=True, extra_keys=DEFAULT_KEYS + LANGUAGE_INFO_KEYS)


def strip_on_save(model, path, contents_manager, **kwargs):
    """Jupyter server ``pre_save_hook``: strip a kit notebook before it is written."""
    if model.get("type") != "notebook" or not model.get("content"):
        return
    root = Path(getattr(contents_manager, "root_dir", ".") or ".")
    if is_kit_notebook(root / path.lstrip("/")):
        model["content"] = strip(model["content"])
