"""`dig-kit reproduce` mechanics on tiny stand-in notebooks: failures, skipping, --only/--from, index."""


import nbformat as nbf
import pytest

from dig_kit.paper import pipeline
from dig_kit.paper.artifacts import tab5_rows, write_index
from dig_kit.config import load_config, save_config

pytestmark = pytest.mark.notebooks
pytest.importorskip("papermill")


def _notebook(path, body):
    nb = nbf.v4.new_notebook()
    params = nbf.v4.new_code_cell("out_dir = 'figures'\nvalue = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbf.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbf.write(nb, str(path))


@pytest.fixture
def fake_plan(tmp_path, monkeypatch):
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    _notebook(nbs / "a.ipynb", "from dig_kit.paper.figures import save_table\n"
                               "save_table([{'x': value}], 'tab_a', out_dir, source='test notebook a')")
    _notebook(nbs / "b.ipynb", "open(f'{out_dir}/b.txt', 'w').write(str(value))")
    monkeypatch.setattr(pipeline, "NOTEBOOKS", nbs)
    plan = {"value": 1}

    def steps(profile, runs, figures, extra=None):
        return [("a", "a.ipynb", "a.ipynb", {"out_dir": str(figures), "value": plan["value"]}),
                ("b", "b.ipynb", "b.ipynb", {"out_dir": str(figures), "value": plan["value"]})]

    monkeypatch.setattr(pipeline, "steps", steps)
    return nbs, plan


def _run(tmp_path, capsys, **kw):
    rc = pipeline.run_pipeline("smoke", runs_dir=str(tmp_path / "runs"), figures_dir=str(tmp_path / "fig"), **kw)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_runs_then_skips_then_reruns_what_changed(tmp_path, capsys, fake_plan):
    nbs, plan = fake_plan
    rc, out, _ = _run(tmp_path, capsys)
    assert rc == 0 and out.count("running") == 2
    index = (tmp_path / "fig" / "index.md").read_text()
    assert "`tab_a`" in index and "a.ipynb (a)" in index and "test notebook a" in index
    rc, out, _ = _run(tmp_path, capsys)
    assert rc == 0 and out.count("skipped") == 2 and "running" not in out
    _notebook(nbs / "a.ipynb", "from dig_kit.paper.figures import save_table\n"
                               "save_table([{'x': value + 1}], 'tab_a', out_dir, source='test notebook a v2')")
    rc, out, _ = _run(tmp_path, capsys)
    assert out.count("running") == 2  # a changed, so b (downstream) reruns too
    rc, out, _ = _run(tmp_path, capsys, only=["b"])
    assert out.count("skipped") == 1 and "[1/1]" in out


def test_a_failing_notebook_stops_with_the_cell_and_error(tmp_path, capsys, fake_plan):
    nbs, _ = fake_plan
    _notebook(nbs / "a.ipynb", "raise ValueError('the data is wrong')")
    rc, out, err = _run(tmp_path, capsys)
    assert rc == 1
    assert "step 'a' failed in a.ipynb, cell" in err and "ValueError: the data is wrong" in err
    assert "running b.ipynb" not in out  # the pipeline stopped
    rc, _, err = _run(tmp_path, capsys, start="nope")
    assert rc == 2 and "unknown step 'nope'" in err


def test_tab5_is_read_from_the_config_that_ran(tmp_path):
    cfg = load_config("paper", ["train.learning_rate=2e-6", "train.freeze_vision=true"])
    save_config(cfg, tmp_path / "config.yaml")
    rows = {r["Parameter"]: r for r in tab5_rows(tmp_path / "config.yaml")}
    assert rows["Learning rate"]["Paper (Table 5)"] == "1.0e-6" and rows["Learning rate"]["This run"] == "2e-06"
    assert rows["Vision tower"]["This run"] == "Frozen" and rows["KL coefficient"]["This run"] == "0.01"
    assert [rows[f"Stage {i} steps"]["This run"] for i in (1, 2, 3)] == ["60", "20", "30"]
    with pytest.raises(FileNotFoundError, match="no config.yaml"):
        tab5_rows(tmp_path / "missing.yaml")


def test_index_lists_artifacts_even_without_records(tmp_path):
    (tmp_path / "x.csv").write_text("a\n")
    path = write_index(tmp_path, tmp_path / "none.json", "smoke")
    assert "| `x` | csv | ? (?)" in path.read_text()
