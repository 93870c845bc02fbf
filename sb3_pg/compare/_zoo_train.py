"""
One attempt of one run: rl-zoo3's ``train`` with sb3_pg's algorithms registered (``python -m sb3_pg.train``), timed.

``python -m sb3_pg.compare._zoo_train TIMING_FILE [rl_zoo3.train arguments...]``

The comparison starts this in a process of its own per run, so that a crash, a leak or the global state that
``train`` sets (seeds, torch threads) stays inside the run. ``TIMING_FILE`` receives the wall-clock time of
``train()``: environment creation, training and the periodic evaluations, not the Python start-up.
"""

import json
import sys
import time


def main(argv: list[str] | None = None) -> None:
    """:param argv: ``[timing_file, *zoo_args]`` (default: ``sys.argv[1:]``)"""
    argv = sys.argv[1:] if argv is None else argv
    timing_file, zoo_args = argv[0], argv[1:]

    from sb3_pg.train import main as zoo_train

    sys.argv = ["sb3_pg.train", *zoo_args]
    started = time.time()
    start = time.perf_counter()
    zoo_train()
    wall_time = time.perf_counter() - start
    with open(timing_file, "w") as file:
        json.dump({"started": started, "wall_time_s": wall_time}, file)


if __name__ == "__main__":
    main()
