"""Notebooks 01-03 in JupyterLab, driven by headless Chromium as a researcher would use them.

One JupyterLab server (the kit's .venv, 127.0.0.1, a free port, a token, no browser) serves a
throwaway dig-kit checkout: this working tree's pyproject.toml, notebooks/, .gitattributes and
git filter, committed in a fresh git repository. (Not the checkout itself: the smoke defaults write
`figures/` and `runs/smoke/` at the root, and a test must not overwrite a researcher's figures.)
Headless Chromium opens each notebook from notebooks/ (so its kernel starts there, as a user's
does), runs all cells with the default parameters (the smoke profile; `interactive = True` is the
default, which shows the widgets), then moves each widget's control and checks that what the widget
shows changes: the pair browser's split menu and pair slider, the reward playground's x range
slider, the curve viewer's metric tick box. Then it saves the notebook (JupyterLab's own save
command, through the kit's pre-save hook) and checks that `git status --porcelain notebooks/` is
empty, that nothing landed under notebooks/runs or notebooks/figures, and that the figures went to
the checkout's root. One test per notebook, in order (03 trains on the data 01 renders; run
alone, it runs 01 first); the checkout, the server and the browser are module fixtures they share.

Needs Chromium and its chromedriver (Debian: apt-get install chromium chromium-driver; .ci/run
installs them when it runs as root); skipped, saying what is missing, without them.
Screenshots: set DIG_KIT_BROWSER_SHOTS=/some/dir to keep one per notebook (else they go to the
test's tmp directory).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.notebooks, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
RUN_ALL_TIMEOUT_S = 300  # per notebook; the smoke profile takes ~35 s (01), ~10 s (02), ~50 s (03)
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)


def _which(*names: str) -> str | None:
    for n in names:
        found = shutil.which(n) or (n if os.path.isabs(n) and os.access(n, os.X_OK) else None)
        if found:
            return found
    return None


def _missing() -> str | None:
    """What the test needs and this machine lacks, in words (None: nothing)."""
    lacks = []
    try:
        import selenium  # noqa: F401
    except ImportError:
        lacks.append("selenium (the dev extra: bash scripts/setup.sh)")
    if not (VENV / "bin" / "jupyter-lab").exists():
        lacks.append(f"JupyterLab in {VENV} (bash scripts/setup.sh)")
    if shutil.which("git") is None:
        lacks.append("git")
    if not _which("chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium"):
        lacks.append("Chromium (apt-get install chromium)")
    if not _which("chromedriver", "/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"):
        lacks.append("chromedriver (apt-get install chromium-driver)")
    return ", ".join(lacks) or None


if _missing():
    pytest.skip(f"browser test needs {_missing()}", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import (  # noqa: E402
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


def _git(repo: Path, *args: str) -> str:
    r = subprocess.run(
        ["git", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t",
        },
    )
    assert r.returncode == 0, f"git {' '.join(args)}: {r.stderr}"
    return r.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    """A dig-kit checkout in git, its notebooks as this working tree has them, filter installed."""
    repo = tmp_path_factory.mktemp("browser") / "checkout"
    (repo / "scripts").mkdir(parents=True)
    (repo / "notebooks").mkdir()
    for name in ("pyproject.toml", ".gitattributes", ".gitignore", "scripts/git-filters.sh"):
        shutil.copy(ROOT / name, repo / name)
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        shutil.copy(nb, repo / "notebooks" / nb.name)
    (repo / ".venv").symlink_to(VENV)  # the filter runs .venv/bin/python from the work tree
    _git(repo, "init", "-q")
    out = subprocess.run(["bash", "scripts/git-filters.sh"], cwd=repo, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "a checkout")
    return repo


@pytest.fixture(scope="module")
def lab(checkout, tmp_path_factory):
    """JupyterLab from the kit's environment, serving the checkout; yields (base URL, token)."""
    home = tmp_path_factory.mktemp("jupyter")
    settings = home / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    # no news or update toasts over the notebook
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    port, token = _free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k not in ("DIG_KIT_ROOT", "MPLBACKEND", "JUPYTER_PATH")}
    # the user's own ~/.jupyter and kernels stay out; the kit's save hook (.venv/etc/jupyter) and
    # kernel (.venv/share/jupyter) are found through the environment's prefix
    env.update(
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        IPYTHONDIR=str(home / "ipython"),
    )
    cmd = [
        str(VENV / "bin" / "jupyter-lab"),
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={checkout}",
        "--ServerApp.allow_root=True",
        "--LabApp.expose_app_in_browser=True",
        f"--LabApp.user_settings_dir={home / 'settings'}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
    ]
    log = (home / "lab.log").open("w")
    proc = subprocess.Popen(cmd, cwd=checkout, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not start:\n{(home / 'lab.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield url, token
    finally:
        proc.terminate()  # the server shuts its kernels down
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = _which("chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium")
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium')}")
    service = Service(_which("chromedriver", "/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"))
    try:
        driver = webdriver.Chrome(options=options, service=service)
    except WebDriverException as e:
        pytest.skip(f"browser test: headless Chromium does not start here ({e.msg or e})")
    driver.set_script_timeout(RUN_ALL_TIMEOUT_S)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    d = Path(os.environ.get("DIG_KIT_BROWSER_SHOTS") or tmp_path_factory.mktemp("screenshots"))
    d.mkdir(parents=True, exist_ok=True)
    return d


# -- JupyterLab, through its own commands (window.jupyterapp: --LabApp.expose_app_in_browser) ------------

NOTEBOOK_READY = """
const app = window.jupyterapp, w = app && app.shell.currentWidget;
const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
return !!(w && w.context && w.context.path === arguments[0] && w.context.isReady && k && k.status === 'idle');
"""
RUN_ALL = """
const done = arguments[arguments.length - 1];
window.jupyterapp.commands.execute('notebook:run-all-cells').then(ok => done(ok), e => done('error: ' + e));
"""
SAVE = """
const done = arguments[arguments.length - 1];
window.jupyterapp.commands.execute('docmanager:save').then(() => done(true), e => done('error: ' + e));
"""
OUTPUT_PROBLEMS = """
const nb = window.jupyterapp.shell.currentWidget.content, found = [];
for (const cell of nb.model.cells) {
  if (cell.type !== 'code') continue;
  for (const o of cell.toJSON().outputs || []) {
    if (o.output_type === 'error') found.push(o.ename + ': ' + o.evalue);
  }
}
return found;
"""
SHUTDOWN = """
const done = arguments[arguments.length - 1];
window.jupyterapp.shell.currentWidget.sessionContext.shutdown().then(() => done(true), e => done('error: ' + e));
"""
SCROLL_TO_LAST = """
const nb = window.jupyterapp.shell.currentWidget.content, last = nb.widgets.length - 1;
nb.activeCellIndex = last;
return nb.scrollToItem(last, 'start').then(() => true);
"""


def _open(driver, url: str, token: str, name: str):
    path = f"notebooks/{name}"
    driver.get(f"{url}/lab/tree/{path}?reset&token={token}")
    WebDriverWait(driver, 120, poll_frequency=0.5).until(
        lambda d: d.execute_script(NOTEBOOK_READY, path), f"{name}: notebook or kernel not ready"
    )


def _run_all(driver, name: str):
    t0 = time.monotonic()
    ok = driver.execute_async_script(RUN_ALL)
    problems = driver.execute_script(OUTPUT_PROBLEMS)
    assert ok is True and not problems, f"{name}: run all cells -> {ok}; errors: {problems}"
    return time.monotonic() - t0


def _last_output(driver):
    """The last code cell's output area (where each notebook shows its widget), in view."""
    driver.execute_script(SCROLL_TO_LAST)
    cells = driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-CodeCell")
    return cells[-1].find_element(By.CSS_SELECTOR, ".jp-OutputArea")


def _image(area) -> str:
    """The widget's figure (a data: URL), or "" while its Output redraws."""
    try:
        imgs = area.find_elements(By.CSS_SELECTOR, ".widget-output img")
        return imgs[0].get_attribute("src") if imgs else ""
    except StaleElementReferenceException:
        return ""


def _until_changed(driver, what, before, message, timeout=60):
    try:
        WebDriverWait(driver, timeout, poll_frequency=0.3, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda _: (now := what()) and now != before
        )
    except TimeoutException:
        pytest.fail(message)
    return what()


SCROLL = """
const o = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer');
if (arguments[0] === 0) o.scrollTop = 0; else o.scrollTop += Math.round(o.clientHeight * 0.9);
return o.scrollTop;
"""


def _shots(driver, shots: Path, name: str, most: int = 12):
    """The widget as left after its checks (<name>.png), then the notebook top to bottom (<name>-NN.png)."""
    stem = Path(name).stem
    driver.save_screenshot(str(shots / f"{stem}.png"))
    top = driver.execute_script(SCROLL, 0)
    for k in range(most):
        time.sleep(0.3)  # let the cells that come into view render
        driver.save_screenshot(str(shots / f"{stem}-{k:02d}.png"))
        top, last = driver.execute_script(SCROLL, 1), top
        if top == last:
            break


def _move_slider(driver, slider, handle: str = ".noUi-handle", offset: int = 60):
    el = slider.find_element(By.CSS_SELECTOR, handle)
    ActionChains(driver).click_and_hold(el).move_by_offset(offset, 0).release().perform()


def _check_pair_browser(driver, area):
    wait = WebDriverWait(driver, 60)
    wait.until(lambda _: _image(area), "pair browser: no image")
    table = lambda: area.find_element(By.CSS_SELECTOR, ".widget-html-content").get_attribute("innerHTML")  # noqa: E731
    menu = Select(area.find_element(By.CSS_SELECTOR, ".widget-dropdown select"))
    assert menu.first_selected_option.text == "stage3"  # the notebook's split
    img, html = _image(area), table()
    menu.select_by_visible_text("stage1")
    _until_changed(driver, lambda: _image(area), img, "pair browser: the image did not change with the split")
    _until_changed(driver, table, html, "pair browser: the differences table did not change with the split")
    slider = area.find_element(By.CSS_SELECTOR, ".widget-slider")
    readout = slider.find_element(By.CSS_SELECTOR, ".widget-readout")
    img, pair = _image(area), readout.text
    slider.find_element(By.CSS_SELECTOR, ".noUi-handle").send_keys(Keys.ARROW_RIGHT)
    _until_changed(driver, lambda: readout.text, pair, "pair browser: the pair slider did not move")
    _until_changed(driver, lambda: _image(area), img, "pair browser: the image did not change with the pair")


def _check_playground(driver, area):
    WebDriverWait(driver, 60).until(lambda _: _image(area), "reward playground: no image")
    slider = area.find_elements(By.CSS_SELECTOR, ".widget-slider")[0]  # x1, x2
    readout = slider.find_element(By.CSS_SELECTOR, ".widget-readout")
    img, xs = _image(area), readout.text
    _move_slider(driver, slider, ".noUi-handle-upper", 60)  # x2: a wider box
    _until_changed(driver, lambda: readout.text, xs, "reward playground: the x range slider did not move")
    _until_changed(driver, lambda: _image(area), img, "reward playground: the plot did not change with the box")


def _check_curve_viewer(driver, area):
    WebDriverWait(driver, 60).until(lambda _: _image(area), "curve viewer: no image")
    menu = Select(area.find_element(By.CSS_SELECTOR, ".widget-dropdown select"))
    assert menu.first_selected_option.text == "stage1"  # the notebook's stage
    box = area.find_element(By.XPATH, ".//label[.//span[text()='gradient norm']]//input[@type='checkbox']")
    assert not box.is_selected()
    img = _image(area)
    box.click()
    _until_changed(driver, lambda: _image(area), img, "curve viewer: ticking 'gradient norm' changed nothing")


WIDGETS = {
    "01_render_dataset.ipynb": _check_pair_browser,
    "02_reward_sanity.ipynb": _check_playground,
    "03_train_stage.ipynb": _check_curve_viewer,
}
FIGURES = {
    "01_render_dataset.ipynb": "fig7_pairs.png",
    "02_reward_sanity.ipynb": "fig_reward_jitter.png",
    "03_train_stage.ipynb": "fig8_dynamics_stage1.png",
}


def _strays(checkout: Path) -> list[str]:
    """The outputs that landed next to the notebooks instead of at the checkout's root."""
    return [p for p in ("notebooks/runs", "notebooks/figures", "notebooks/data") if (checkout / p).exists()]


def _exercise(checkout: Path, lab, driver, shots: Path | None, name: str) -> float:
    """Open notebook ``name`` from notebooks/, run all cells (smoke defaults), move its widget's
    controls (unless ``shots`` is None: a run for its outputs only), save it through JupyterLab,
    then check git stays clean and the figure lands at the root; its kernel is shut down after.
    Returns the run-all time (s)."""
    url, token = lab
    nb_file = checkout / "notebooks" / name
    saved_before = nb_file.stat().st_mtime_ns
    _open(driver, url, token, name)
    try:
        took = _run_all(driver, name)
        if shots is not None:
            WIDGETS[name](driver, _last_output(driver))
            _shots(driver, shots, name)
        assert driver.execute_async_script(SAVE) is True, f"{name}: save failed"
        assert nb_file.stat().st_mtime_ns != saved_before, f"{name}: JupyterLab did not write the notebook"
        assert _git(checkout, "status", "--porcelain", "notebooks/") == "", f"{name}: saving left git status dirty"
        assert (checkout / "figures" / FIGURES[name]).stat().st_size > 1000, f"{name}: no figure at the root"
        assert not _strays(checkout), f"{name}: outputs landed under {_strays(checkout)}"
    finally:
        try:  # its kernel (memory) goes before the next notebook starts one
            driver.execute_async_script(SHUTDOWN)
        except WebDriverException:
            pass
    print(f"{name}: run all cells {took:.1f} s; screenshots in {shots}", file=sys.stderr)
    return took


def test_01_render_dataset_pair_browser_responds_and_git_stays_clean(checkout, lab, browser, shots):
    _exercise(checkout, lab, browser, shots, "01_render_dataset.ipynb")
    assert (checkout / "runs" / "smoke" / "data").is_dir(), "01: no smoke data under runs/smoke/data"


def test_02_reward_sanity_playground_responds_and_git_stays_clean(checkout, lab, browser, shots):
    _exercise(checkout, lab, browser, shots, "02_reward_sanity.ipynb")


def test_03_train_stage_curve_viewer_responds_and_git_stays_clean(checkout, lab, browser, shots):
    if not (checkout / "runs" / "smoke" / "data").is_dir():  # 03 trains on the data 01 renders
        _exercise(checkout, lab, browser, None, "01_render_dataset.ipynb")
    _exercise(checkout, lab, browser, shots, "03_train_stage.ipynb")
    assert (checkout / "runs" / "smoke" / "train").is_dir(), "03: no smoke run under runs/smoke/train"
