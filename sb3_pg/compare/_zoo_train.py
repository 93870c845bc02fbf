"""
``python -m sb3_pg.compare._zoo_train TIMING_FILE [rl_zoo3.train arguments]``: a run's segment in its own process, by
``python -m sb3_pg.train``, with SB3's logger also writing ``progress.csv`` into the zoo's folder, and the start and
wall-clock time of ``train()`` (not the Python start-up) into ``TIMING_FILE``.
"""

import json
import sys
import time


def main(argv: list[str] | None = None) -> None:
    """:param argv: ``[timing_file, *zoo_args]`` (default: ``sys.argv[1:]``)"""
    from rl_zoo3.exp_manager import ExperimentManager
    from stable_baselines3.common import logger, utils

    from sb3_pg.train import main as zoo_train

    argv, learn, configure_logger = sys.argv[1:] if argv is None else argv, ExperimentManager.learn, utils.configure_logger

    def learn_logging_csv(manager: ExperimentManager, model: object) -> None:  # the logger SB3 configures, and a CSV file
        csv = logger.make_output_format("csv", manager.save_path)
        utils.configure_logger = lambda *args, **kw: logger.Logger(None, [*configure_logger(*args, **kw).output_formats, csv])
        learn(manager, model)  # type: ignore[arg-type]

    ExperimentManager.learn = learn_logging_csv  # type: ignore[method-assign, assignment]
    sys.argv, started, start = ["sb3_pg.train", *argv[1:]], time.time(), time.perf_counter()
    zoo_train()
    with open(argv[0], "w") as file:
        json.dump({"started": started, "wall_time_s": time.perf_counter() - start}, file)


if __name__ == "__main__":
    main()
