"""The test suite's own layout rules, which a green unit run alone would not show."""

import glob
import os

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def test_one_conftest_per_suite():
    # `pytest tests/unit tests/integration` collects both suites in one run; the integration tests
    # import their conftest by the module name "conftest", and a conftest in a subfolder loaded later
    # takes that name over (every integration module then fails to import).
    pattern = os.path.join(ROOT, "tests", "**", "conftest.py")
    found = sorted(os.path.relpath(path, ROOT) for path in glob.glob(pattern, recursive=True))
    assert found == ["tests/integration/conftest.py", "tests/unit/conftest.py"], found
