# shellcheck shell=bash
# Sourced by .ci/tests, .ci/drills and .ci/run: on a machine with only Python and pip, install uv
# (pinned, hash-checked), check that uv.lock matches pyproject.toml, install every locked package
# into .venv, activate it, and make sure the browser lane has a Chromium.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY=${PYTHON:-python3}
export UV_PYTHON_DOWNLOADS=never   # use this machine's Python, never a downloaded one
export UV_LINK_MODE=copy

# VIBEDRILL_UV names a uv to use instead (the tests of this script set it).
UV=${VIBEDRILL_UV:-.ci/.uv/bin/uv}
if [ -z "${VIBEDRILL_UV:-}" ] && [ ! -x "$UV" ]; then
  "$PY" -m venv .ci/.uv
  .ci/.uv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes \
    -r .ci/uv-requirements.txt
fi

# A dependency changed in pyproject.toml without re-locking stops here, saying how to re-lock.
if ! "$UV" lock --check --quiet 2>/dev/null; then
  echo "error: uv.lock is out of date with pyproject.toml." >&2
  echo "       Re-lock on purpose, review and commit the result:  nox -s lock   (or: uv lock)" >&2
  echo "       See docs/dependencies.md." >&2
  exit 2
fi

# Exactly the locked versions (hashes checked); the project itself editable, dev extras included.
# Byte-compiled once here: the suite starts many Python processes (xdist workers, served fakes
# and platforms, game days, Locust), and with PYTHONDONTWRITEBYTECODE set (some images set it)
# each one would compile every import again — twice the CPU of collecting the tests.
"$UV" sync --locked --extra dev --python "$PY" --quiet --compile-bytecode
unset PYTHONDONTWRITEBYTECODE
# shellcheck disable=SC1091
. .venv/bin/activate
python -m compileall -q -j 0 harness sandbox fakes tests bench >/dev/null

# The browser lane needs a Chromium: Playwright's own where installed, else Debian's.
vibedrill doctor --install-browser
