"""
``python -m sb3_pg.record_video``: rl-zoo3's ``record_video.py`` with ``reinforce``, ``vpg``, ``npg`` and
``klppo`` registered.

It takes every flag of ``python -m rl_zoo3.record_video`` and finds a run as ``python -m sb3_pg.enjoy`` does.
"""

import runpy

from sb3_pg.zoo import register


def main() -> None:
    """Run rl-zoo3's ``record_video`` script on this process's command line."""
    register()
    # The zoo's script is its module's __main__ block, with no function to call
    runpy.run_module("rl_zoo3.record_video", run_name="__main__")


if __name__ == "__main__":
    main()
