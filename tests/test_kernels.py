"""The kernels `dig-kit reproduce` starts: IPC sockets, tqdm's text bar, one final line kept."""

import nbformat
import pytest

from dig_kit.paper.kernels import settle_stream_text, settle_streams


def test_settled_text_is_what_a_terminal_shows():
    assert settle_stream_text("a:   0%|\ra:  50%|\ra: 100%|\nnext\n") == "a: 100%|\nnext\n"
    assert settle_stream_text("line\r\nkept\r\n") == "line\r\nkept\r\n"  # CRLF ends a line, it redraws nothing
    assert settle_stream_text("abc\x08\x08d") == "ad"
    assert settle_stream_text("plain\n") == "plain\n"


def _out(name, text):
    return nbformat.v4.new_output("stream", name=name, text=text)


def test_settle_streams_merges_only_neighbours_and_keeps_other_outputs(tmp_path):
    nb = nbformat.v4.new_notebook()
    figure = nbformat.v4.new_output("display_data", data={"text/plain": "<Figure>"})
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        _out("stdout", "before\n"),
        _out("stdout", "\rbar:   0%|"),
        _out("stdout", "\rbar: 100%|"),
        _out("stderr", "a warning\n"),
        _out("stdout", "\n"),
        figure,
        _out("stdout", "after\n"),
    ]
    nb.cells = [cell, nbformat.v4.new_markdown_cell("text")]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, str(path))
    assert settle_streams(path) == 2
    outs = nbformat.read(str(path), as_version=4).cells[0].outputs
    assert [(o.output_type, o.get("name"), o.get("text")) for o in outs] == [
        ("stream", "stdout", "before\nbar: 100%|"),
        ("stream", "stderr", "a warning\n"),
        ("stream", "stdout", "\n"),
        ("display_data", None, None),
        ("stream", "stdout", "after\n"),
    ]
    mtime = path.stat().st_mtime_ns
    assert settle_streams(path) == 0 and path.stat().st_mtime_ns == mtime  # nothing left to do: not rewritten


def test_a_headless_kernel_keeps_each_progress_bar_at_its_final_state(tmp_path):
    """As `reproduce` runs a step: papermill on the kit's kernel manager, then the settle pass.
    The bars of the kit (tqdm.auto) and of a library that binds tqdm.auto at import (datasets)
    end as one text line at 100%, with no widget left at 0%."""
    pm = pytest.importorskip("papermill")
    pytest.importorskip("ipykernel")
    from dig_kit.paper.kernels import IPCKernelManager

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "print('before')\nfrom tqdm.auto import tqdm\nimport time\n"
            "for _ in tqdm(range(20), desc='render'):\n    time.sleep(0.01)\nprint('after')"
        ),
        nbformat.v4.new_code_cell(
            "from datasets.utils.tqdm import tqdm as bar\nfor _ in bar(range(5), desc='map'):\n    pass"
        ),
    ]
    nbformat.write(nb, str(tmp_path / "in.ipynb"))
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(
        str(tmp_path / "in.ipynb"),
        str(out),
        kernel_name="python3",
        progress_bar=False,
        kernel_manager_class=IPCKernelManager,
    )
    settle_streams(out)
    cells = nbformat.read(str(out), as_version=4).cells
    for cell in cells:
        for o in cell.outputs:
            assert o.output_type == "stream", o  # no widget views
            assert "0%|" not in o.text.replace("100%|", ""), o.text
    first, second = ("".join(o.text for o in c.outputs) for c in cells)
    assert first.startswith("before\nrender: 100%|") and "20/20" in first and first.endswith("after\n")
    assert second.startswith("map: 100%|") and "5/5" in second
