"""The command line speaks for itself: a version, help on every option, the preset it uses."""

import argparse
import subprocess
import sys

import pytest

from dig_kit import __version__
from dig_kit.cli import build_parser, main


def _subparsers(parser):
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def test_version_and_a_plain_top_level_help(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"dig-kit {__version__}"
    text = build_parser().format_help()
    assert "``" not in text and "reproduce --profile smoke" in text


def test_every_option_of_every_command_has_help():
    missing = []
    for name, sub in _subparsers(build_parser()).items():
        for action in sub._actions:
            if action.option_strings and action.dest != "help" and not (action.help or "").strip():
                missing.append(f"{name} {action.option_strings[0]}")
    assert missing == []


def test_reproduce_help_names_the_steps_of_each_profile():
    from pathlib import Path

    from dig_kit.paper.pipeline import steps

    text = _subparsers(build_parser())["reproduce"].format_help()
    for profile in ("smoke", "mini", "paper"):
        names = " ".join(s.name for s in steps(profile, Path("runs"), Path("figures")))
        assert f"{profile:6s} {names}" in text
    args = build_parser().parse_args(["reproduce", "--preset", "mini", "--out", "figs"])
    assert (args.profile, args.figures) == ("mini", "figs")  # the other commands' vocabulary works too


def test_a_command_without_preset_says_which_it_uses():
    res = subprocess.run([sys.executable, "-m", "dig_kit.cli", "config"], capture_output=True, text=True)
    assert res.returncode == 0 and "profile: smoke" in res.stdout
    assert "no --preset given, using 'smoke'" in res.stderr
    res = subprocess.run(
        [sys.executable, "-m", "dig_kit.cli", "config", "--preset", "paper"], capture_output=True, text=True
    )
    assert res.returncode == 0 and "no --preset" not in res.stderr
