"""JupyterLab saves the kit's own notebooks without outputs (a Jupyter server pre-save hook).

The nbstripout git filter (``.gitattributes``, ``scripts/git-filters.sh``) keeps outputs out of
commits, but git decides "modified" from the file's size before it runs any filter, so a notebook
saved with outputs would still show in ``git status``. ``scripts/setup.sh`` therefore also
enables this module as a Jupyter server extension of ``.venv``
(``.venv/etc/jupyter/jupyter_server_config.d/dig-kit.json``), which registers :func:`strip_on_save`
as a pre-save hook of the server's contents manager: a notebook under
``<checkout>/notebooks/`` is written exactly as git stores it (outputs, execution counts and
run-specific metadata dropped by nbstripout's own function, the same one the filter runs), so
saving or autosaving leaves ``git status`` clean. Outputs stay on screen for the session; a
notebook anywhere else (your own copies) is saved untouched.

Why an extension and not ``{"ContentsManager": {"pre_save_hook": ...}}`` in that folder: the
server reads ``jupyter_server_config.d/*.json`` for ``ServerApp.jpserver_extensions`` only, so such
a setting there is silently ignored (tests/test_browser.py caught it).
"""

from __future__ import annotations

from pathlib import Path

from dig_kit.paths import is_checkout

# the kernel fills these in; the committed notebooks keep only metadata.language_info.name.
# scripts/git-filters.sh gives the filter the same list (git config filter.nbstripout.extrakeys).
LANGUAGE_INFO_KEYS = [
    f"metadata.language_info.{k}"
    for k in ("codemirror_mode", "file_extension", "mimetype", "nbconvert_exporter", "pygments_lexer", "version")
]
# nbstripout's command line strips these by default; its strip_output function needs them named
DEFAULT_KEYS = [
    "metadata.signature",
    "metadata.widgets",
    "cell.metadata.collapsed",
    "cell.metadata.ExecuteTime",
    "cell.metadata.execution",
    "cell.metadata.heading_collapsed",
    "cell.metadata.hidden",
    "cell.metadata.scrolled",
]


def is_kit_notebook(path: str | Path) -> bool:
    """True for ``<dig-kit checkout>/notebooks/*.ipynb``."""
    p = Path(path).resolve()
    return p.suffix == ".ipynb" and p.parent.name == "notebooks" and is_checkout(p.parent.parent)


def strip(nb):
    """The notebook as git stores it (nbstripout with the filter's settings)."""
    import nbformat
    from nbstripout import strip_output

    node = nbformat.from_dict(nb)
    return strip_output(
        node, keep_output=False, keep_count=False, keep_id=True, extra_keys=DEFAULT_KEYS + LANGUAGE_INFO_KEYS
    )


def strip_on_save(model, path, contents_manager, **kwargs):
    """Jupyter server ``pre_save_hook``: strip a kit notebook before it is written."""
    if model.get("type") != "notebook" or not model.get("content"):
        return
    root = Path(getattr(contents_manager, "root_dir", ".") or ".")
    if is_kit_notebook(root / path.lstrip("/")):
        model["content"] = strip(model["content"])


# -- Jupyter server extension (enabled by scripts/setup.sh) --------------------------------------------


def _jupyter_server_extension_points():
    return [{"module": "dig_kit.paper.jupyter"}]


def _load_jupyter_server_extension(serverapp):
    """Register :func:`strip_on_save` with the server's contents manager."""
    serverapp.contents_manager.register_pre_save_hook(strip_on_save)
    serverapp.log.info("dig-kit: notebooks under <checkout>/notebooks/ are saved without outputs")
