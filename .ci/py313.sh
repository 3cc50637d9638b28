#!/usr/bin/env bash
# CI leg: Python 3.13 (pyenv) with Pyserini 2.x, through the 3.12 leg's script: Pyserini 2.3 with the
# train and openai extras runs the Pyserini-facing tests and the quick ones (`-m "pyserini or not
# slow"`: parsing, prompts, windows, evaluation, settings, the reward, training data), then the newest
# Pyserini (2.4) reruns what needs no network. Prints the leg's wall time.
PYVER=3.13 EXTRAS=train,openai SELECT="pyserini or not slow" exec bash "$(dirname "$0")/py312.sh"
