#!/usr/bin/env bash
# Install the git filter that keeps outputs out of git (setup.sh runs this; safe to rerun).
#
# .gitattributes routes *.ipynb through the filter "nbstripout" (the notebooks extra): JupyterLab's
# save (or autosave) writes outputs into notebooks/*.ipynb; git stores them stripped, and
# `git status` compares the stripped text, so a saved notebook leaves it clean. The commands are
# relative: git runs filters from the work tree's root, so each clone or worktree uses its own
# .venv. Outside a git work tree (an unpacked archive) there is nothing to install.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "git-filters.sh: not a git work tree, no filter installed"
  exit 0
fi
git config filter.nbstripout.clean ".venv/bin/python -m nbstripout --keep-id"
git config filter.nbstripout.smudge cat
# the kernel's language details (the committed notebooks keep language_info.name only);
# dig_kit/paper/jupyter.py strips the same keys when JupyterLab saves
git config filter.nbstripout.extrakeys "$(printf 'metadata.language_info.%s ' codemirror_mode file_extension \
  mimetype nbconvert_exporter pygments_lexer version | sed 's/ $//')"
git config diff.ipynb.textconv ".venv/bin/python -m nbstripout --keep-id -t"
echo "git: notebooks are stripped of outputs when staged (filter nbstripout, see .gitattributes)"
