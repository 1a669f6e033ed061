"""Puts the shared package and every function folder on sys.path, as the Lambda layer and bundles do."""
import os
import sys

LAMBDA_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for name in sorted(os.listdir(LAMBDA_DIR)):
    path = os.path.join(LAMBDA_DIR, name)
    if os.path.isdir(path) and name not in ("tests", "__pycache__") and not name.startswith("."):
        sys.path.insert(0, path)

# Every AWS call the deployed code makes is recorded for the permission contract (test/permission-contract).
import call_recorder  # noqa: E402

_CALLS = os.path.join(call_recorder.default_path(), "pytest.jsonl")


def pytest_configure(config):
    if os.path.exists(_CALLS):
        os.remove(_CALLS)
    call_recorder.install(_CALLS, "pytest")


# Tests must pass in any order: `bash scripts/pytest.sh --shuffle` runs the modules in a random order
# and each module's tests in a random order (module by module, so a module's database starts once);
# `--shuffle=SEED` repeats an order. The seed is printed at the start of the run.
def pytest_addoption(parser):
    parser.addoption("--shuffle", action="store", nargs="?", const="random", default=None, metavar="SEED",
                     help="run test modules, and the tests in each, in a random order (seed printed; give it to repeat)")


def pytest_report_header(config):
    seed = _shuffle_seed(config)
    return None if seed is None else f"shuffled with --shuffle={seed}"


def _shuffle_seed(config):
    value = config.getoption("--shuffle")
    if value is None:
        return None
    if not hasattr(config, "_shuffle_seed"):
        import random

        config._shuffle_seed = random.SystemRandom().randrange(10**6) if value == "random" else int(value)
    return config._shuffle_seed


def pytest_collection_modifyitems(session, config, items):
    seed = _shuffle_seed(config)
    if seed is None:
        return
    import random

    import sys

    sys.__stderr__.write(f"\nshuffled with --shuffle={seed}\n")
    rng = random.Random(seed)
    modules: dict = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)
    order = list(modules)
    rng.shuffle(order)
    shuffled = []
    for name in order:
        group = modules[name]
        rng.shuffle(group)
        shuffled.extend(group)
    items[:] = shuffled
